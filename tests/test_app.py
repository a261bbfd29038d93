"""Tests for the esrgan_jax.app tool: arguments, messages and exit codes, and a start on loopback by the CLI path."""

import socket
import urllib.request

import pytest
from helpers import GRADIO_MISSING

from esrgan_jax import app


@pytest.mark.parametrize(
  'argv, message',
  [
    (['--models', 'missing_folder'], '--models missing_folder is not a folder'),
    (['--models', '.', '--max-megapixels', '0'], 'must be positive'),
    (['--models', '.', '--port', '70000'], '--port must be 1-65535'),
  ],
)
def test_bad_arguments_exit_2(argv, message, capsys):
  with pytest.raises(SystemExit) as exit_info:
    app.main(argv)
  assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_folder_without_models_exits_2(tmp_path, capsys):
  pytest.importorskip('gradio', reason=GRADIO_MISSING)
  (tmp_path / 'notes.txt').write_text('x')
  assert app.main(['--models', str(tmp_path)]) == 2
  err = capsys.readouterr().err
  assert 'Cannot start the app: --models' in err and 'holds no model files' in err


def test_free_port_is_free():
  port = app.free_port('127.0.0.1')
  with socket.socket() as probe:
    probe.bind(('127.0.0.1', port))  # nobody holds it


def test_start_serves_on_loopback(tmp_path):
  pytest.importorskip('gradio', reason=GRADIO_MISSING)
  from helpers import tiny_generator  # pylint: disable=g-import-not-at-top

  from esrgan_jax.weights.model_io import save_generator  # pylint: disable=g-import-not-at-top

  save_generator(tmp_path / 'x4.msgpack', *tiny_generator(4))
  page = app.start(['--models', str(tmp_path), '--no-compile-cache'])
  try:
    url = page.local_url
    assert url.startswith('http://127.0.0.1:') and page.server_name == '127.0.0.1' and page.share is False
    with urllib.request.urlopen(url, timeout=30) as response:
      assert response.status == 200 and b'esrgan_jax' in response.read()
  finally:
    page.close()
