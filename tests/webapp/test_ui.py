"""API-level tests of the page (esrgan_jax.webapp.ui) through gradio_client, against the app served on loopback."""

import re
from urllib.parse import urlparse

import numpy as np
import pytest
from app_helpers import COMPACT, GAN, INPUT_SIZE, PSNR, assert_loopback_only
from PIL import Image

from esrgan_jax.webapp import ui

gradio_client = pytest.importorskip('gradio_client')


@pytest.fixture(scope='module')
def client(server):
  return gradio_client.Client(server[0], verbose=False)


def upscale(client, image, alpha=0.5, model=PSNR, blend_with=GAN, compare='bicubic'):
  return client.predict(
    gradio_client.handle_file(str(image)), model, blend_with, alpha, compare, 50, 50, 4, None, api_name='/upscale'
  )


def test_serves_on_loopback_only_without_share_link(server):
  url, page = server
  assert urlparse(url).hostname == '127.0.0.1' and page.server_name == '127.0.0.1'
  assert page.share is False and page.share_url is None
  assert page.max_file_size == 500_000  # --max-upload-mb 0.5
  assert_loopback_only(urlparse(url).port)


def test_one_queue_for_every_computation(server):
  functions = list(server[1].fns.values())
  assert {f.api_name for f in functions} >= {'upscale', 'niqe_curve'}
  assert all(f.concurrency_id == ui.DEVICE and f.concurrency_limit == 1 and f.queue for f in functions)


def test_every_function_is_an_endpoint(client):
  endpoints = client.view_api(print_info=False, return_format='dict')['named_endpoints']
  assert {'/upscale', '/niqe_curve'} <= set(endpoints)
  upscale_inputs = [p['label'] for p in endpoints['/upscale']['parameters']]
  assert upscale_inputs[:4] == [
    'Image (PNG, JPEG, WebP, TIFF, BMP; 16-bit and alpha kept)',
    'Model (α = 0)',
    'Blend with (α = 1)',
    'α / denoise strength',
  ]


def test_upscale_and_move_alpha(client, image_files):
  first = upscale(client, image_files['rgb'], 0.3)
  second = upscale(client, image_files['rgb'], 0.8)
  for (before, after), _, _, download in (first, second):
    assert Image.open(after).size == Image.open(before).size == (INPUT_SIZE[1] * 4, INPUT_SIZE[0] * 4)
    assert Image.open(download).size == (INPUT_SIZE[1] * 4, INPUT_SIZE[0] * 4)
  assert re.search(r'Render: \d+\.\d\d s, 0 compilations', second[2])  # α moved: nothing compiled
  assert 'α = 0.80' in second[2]
  assert np.abs(np.asarray(Image.open(first[0][1]), int) - np.asarray(Image.open(second[0][1]))).max() > 0


def test_niqe_curve_endpoint(client, image_files):
  plot, note = client.predict(gradio_client.handle_file(str(image_files['rgb'])), PSNR, GAN, api_name='/niqe_curve')
  assert plot['columns'] == ['alpha', 'NIQE'] and [row[0] for row in plot['data']] == list(ui.CURVE_ALPHAS)
  assert note.startswith('Lowest NIQE ')
  with pytest.raises(gradio_client.exceptions.AppError, match='needs two models'):
    client.predict(gradio_client.handle_file(str(image_files['rgb'])), PSNR, ui.NO_BLEND, api_name='/niqe_curve')


@pytest.mark.parametrize(
  'image, models, message',
  [
    ('bad', (PSNR, GAN), 'bad.png: not a PNG, JPEG, BMP, TIFF or WebP file'),
    ('big', (PSNR, GAN), r'big.png is 300x200 \(0.1 megapixels\); this app takes at most 0.05 megapixels'),
    ('rgb', (PSNR, COMPACT), 'describe different generators'),
  ],
)
def test_errors_reach_the_caller_and_the_app_goes_on(client, image_files, image, models, message):
  with pytest.raises(gradio_client.exceptions.AppError, match=message):
    upscale(client, image_files[image], 0.5, *models)
  assert upscale(client, image_files['rgb'], 0.5)[2].startswith('**RRDBNet')


def test_no_path_from_the_browser_reaches_the_files(client, image_files):
  with pytest.raises(gradio_client.exceptions.AppError, match='not in the list of choices'):
    upscale(client, image_files['rgb'], 0.5, '../../etc/passwd', ui.NO_BLEND)


def call_raw(url: str, endpoint: str, data: list) -> str:
  """The event stream text of one call through gradio's REST API (what a browser or any HTTP client can send; no
  client-side upload of local paths, unlike gradio_client)."""
  import httpx  # pylint: disable=g-import-not-at-top  (a gradio requirement)

  event = httpx.post(f'{url}/gradio_api/call/{endpoint}', json={'data': data}, timeout=60).json()['event_id']
  return httpx.get(f'{url}/gradio_api/call/{endpoint}/{event}', timeout=120).text


def test_a_server_path_as_the_image_is_refused(server, image_files):
  """Only files uploaded to gradio's cache are inputs: a FileData naming an image on the server does not reach us."""
  named = {'path': str(image_files['rgb']), 'meta': {'_type': 'gradio.FileData'}}
  stream = call_raw(server[0], 'upscale', [named, PSNR, GAN, 0.5, 'bicubic', 50, 50, 4, None])
  assert 'event: error' in stream and 'Render:' not in stream
  uploaded = httpx_upload(server[0], image_files['rgb'])
  assert 'Render:' in call_raw(server[0], 'upscale', [uploaded, PSNR, GAN, 0.5, 'bicubic', 50, 50, 4, None])


def httpx_upload(url: str, path) -> dict:
  """FileData of `path` uploaded to the app's cache (as the page uploads a dropped file)."""
  import httpx  # pylint: disable=g-import-not-at-top

  with open(path, 'rb') as file:
    server_path = httpx.post(f'{url}/gradio_api/upload', files={'files': file}, timeout=60).json()[0]
  return {'path': server_path, 'meta': {'_type': 'gradio.FileData'}}


def test_uploads_over_the_cap_are_refused(server, tmp_path):
  import httpx  # pylint: disable=g-import-not-at-top

  large = tmp_path / 'large.png'
  large.write_bytes(b'\x89PNG' + bytes(600_000))
  with open(large, 'rb') as file:
    response = httpx.post(f'{server[0]}/gradio_api/upload', files={'files': file}, timeout=60)
  assert response.status_code == 413, response.text
