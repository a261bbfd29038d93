"""Names shared by the web app tests (fixtures are in conftest.py): the model files the `model_folder` fixture
writes, the test image size, and a check that a port answers on loopback only."""

import socket

PSNR, GAN, COMPACT = 'tiny_psnr.msgpack', 'tiny_gan.msgpack', 'tiny_compact.msgpack'
INPUT_SIZE = (24, 48)  # (H, W): x4 gives 96x192, the smallest output NIQE scores


def assert_loopback_only(port: int) -> None:
  """Nothing answers on the machine's other addresses (the app listens on 127.0.0.1 only)."""
  host = socket.gethostbyname(socket.gethostname())
  if host.startswith('127.'):
    return
  with socket.socket() as probe:
    probe.settimeout(1)
    assert probe.connect_ex((host, port)) != 0
