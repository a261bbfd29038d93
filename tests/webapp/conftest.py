"""Fixtures of the web app tests: a folder with two tiny RRDBNets of one architecture (a "PSNR" and a "GAN" model)
and a tiny Compact model, small images, and one app server on a loopback port shared by the API and browser tests.

gradio is installed by .ci/run (with --no-deps, see setup.cfg's test extra); without it these tests skip, saying so.
"""

import jax
import numpy as np
import pytest
from app_helpers import COMPACT, GAN, INPUT_SIZE, PSNR
from helpers import GRADIO_MISSING, random_params, smooth_image, tiny_generator
from PIL import Image

pytest.importorskip('gradio', reason=GRADIO_MISSING)

from esrgan_jax.models.srvgg import SRVGGNetCompact
from esrgan_jax.weights.model_io import save_generator


@pytest.fixture(scope='session')
def model_folder(tmp_path_factory):
  """A folder with PSNR (tiny RRDBNet), GAN (the same net, params moved) and a tiny Compact model, plus a file the
  app must ignore."""
  folder = tmp_path_factory.mktemp('models')
  module, params = tiny_generator(4)
  rng = np.random.default_rng(1)
  gan = jax.tree.map(lambda p: p + rng.normal(0.0, 0.1, p.shape).astype(np.float32), params)
  save_generator(folder / PSNR, module, params)
  save_generator(folder / GAN, module, gan)
  compact = SRVGGNetCompact(scale=4, num_feat=4, num_conv=1)
  save_generator(folder / COMPACT, compact, random_params(compact))
  (folder / 'notes.txt').write_text('not a model')
  return folder


@pytest.fixture(scope='session')
def image_files(tmp_path_factory):
  """{'rgb': 8-bit RGB PNG, 'rgba16': 16-bit RGBA PNG, 'gray': 8-bit gray JPEG, 'bad': text named .png,
  'big': a 200x300 PNG} of INPUT_SIZE unless named otherwise."""
  from esrgan_jax.data.image_io import write_image  # pylint: disable=g-import-not-at-top

  folder = tmp_path_factory.mktemp('images')
  rgb = smooth_image(*INPUT_SIZE)
  Image.fromarray(rgb).save(folder / 'rgb.png')
  rgba = np.concatenate([rgb, np.full((*INPUT_SIZE, 1), 200, np.uint8)], axis=-1).astype(np.float32) / 255
  write_image(folder / 'rgba16.png', rgba, bit_depth=16)
  Image.fromarray(rgb[..., 1]).save(folder / 'gray.jpg')
  (folder / 'bad.png').write_bytes(b'this is not an image')
  Image.fromarray(smooth_image(200, 300)).save(folder / 'big.png')
  return {
    name: folder / f'{name}.{"jpg" if name == "gray" else "png"}' for name in ('rgb', 'rgba16', 'gray', 'bad', 'big')
  }


@pytest.fixture(scope='session')
def server(model_folder, tmp_path_factory):
  """The app of `model_folder` served on a free loopback port (in this process, so tests can count its
  compilations); yields its URL."""
  from esrgan_jax import app  # pylint: disable=g-import-not-at-top

  port = app.free_port('127.0.0.1')
  argv = ['--models', str(model_folder), '--port', str(port), '--max-megapixels', '0.05', '--max-upload-mb', '0.5']
  argv.append('--no-compile-cache')
  page = app.start(argv)
  yield f'http://127.0.0.1:{port}', page
  page.close()
