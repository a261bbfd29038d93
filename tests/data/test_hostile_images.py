"""Fuzzing `image_io`'s readers (hypothesis): PNG/JPEG/TIFF/WebP/BMP, 8 and 16 bits, truncated, overwritten, with
the wrong extension, and decompression bombs whose headers declare 100k x 100k pixels. Each file either decodes or
raises ImageReadError (a ValueError naming the file); bombs are refused from the header, before pixels are allocated."""

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from esrgan_jax.data import image_io

FUZZ = settings(
  max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
ROOT = Path(__file__).resolve().parents[2]


def encoded(fmt: str, bits: int, channels: int) -> bytes:
  """A small random image as `fmt` bytes (16 bits: PNG/TIFF only)."""
  rng = np.random.default_rng(bits * 10 + channels)
  shape = (9, 7, channels) if channels > 1 else (9, 7)
  if bits == 16:
    pixels = rng.integers(0, 65536, shape).astype(np.uint16)
    if fmt == 'TIFF':
      buffer = io.BytesIO()
      tifffile.imwrite(buffer, pixels, photometric='rgb' if channels == 3 else 'minisblack')
      return buffer.getvalue()
    return image_io.encode_png(pixels)
  buffer = io.BytesIO()
  Image.fromarray(rng.integers(0, 256, shape).astype(np.uint8)).save(buffer, format=fmt)
  return buffer.getvalue()


SAMPLES = {
  f'{fmt}-{bits}-{channels}': encoded(fmt, bits, channels)
  for fmt, bits, channels in [
    ('PNG', 8, 3),
    ('PNG', 8, 4),
    ('PNG', 16, 3),
    ('PNG', 16, 1),
    ('JPEG', 8, 3),
    ('TIFF', 8, 3),
    ('TIFF', 16, 3),
    ('WEBP', 8, 3),
    ('BMP', 8, 3),
  ]
}


def read_or_refuse(path: Path) -> None:
  try:
    pixels, bits = image_io.read_image_raw(path)
  except image_io.ImageReadError as e:
    assert str(e).startswith(f'{path}: ') and str(e).count('\n') == 0, e
    return
  assert bits in (8, 16) and pixels.dtype in (np.uint8, np.uint16) and pixels.ndim in (2, 3)


@FUZZ
@given(
  sample=st.sampled_from(sorted(SAMPLES)),
  ext=st.sampled_from(['.png', '.jpg', '.tif', '.webp', '.bmp']),
  kind=st.sampled_from(['truncate', 'overwrite', 'insert']),
  data=st.data(),
)
def test_damaged_images_decode_or_are_refused(sample, ext, kind, data, tmp_path_factory):
  original = SAMPLES[sample]
  at = data.draw(st.integers(0, len(original) - 1))
  patch = data.draw(st.binary(min_size=1, max_size=12))
  damaged = {
    'truncate': original[:at],
    'overwrite': original[:at] + patch + original[at + len(patch) :],
    'insert': original[:at] + patch + original[at:],
  }[kind]
  path = tmp_path_factory.mktemp('fuzz') / f'image{ext}'  # the extension need not match the content
  path.write_bytes(damaged)
  read_or_refuse(path)


def png_declaring(width: int, height: int, bit_depth: int = 8, color_type: int = 2) -> bytes:
  def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))

  ihdr = struct.pack('>IIBBBBB', width, height, bit_depth, color_type, 0, 0, 0)
  return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(bytes(4096))) + chunk(b'IEND', b'')


def tiff_declaring(width: int, height: int, bits: int) -> bytes:
  """A TIFF header for width x height RGB samples of `bits`, whose strip holds 8 bytes."""
  buffer = io.BytesIO()
  tifffile.imwrite(buffer, np.zeros((2, 2, 3), np.uint8 if bits == 8 else np.uint16), photometric='rgb')
  data = bytearray(buffer.getvalue())
  with tifffile.TiffFile(io.BytesIO(bytes(data))) as tif:
    tags = tif.pages[0].tags
    offsets = (tags['ImageWidth'].valueoffset, tags['ImageLength'].valueoffset)
    kinds = (tags['ImageWidth'].dtype, tags['ImageLength'].dtype)
  for offset, kind, value in zip(offsets, kinds, (width, height)):
    data[offset : offset + (2 if kind == 3 else 4)] = value.to_bytes(2 if kind == 3 else 4, 'little')
  return bytes(data)


def jpeg_declaring(width: int, height: int) -> bytes:
  data = bytearray(encoded('JPEG', 8, 3))
  sof = data.index(b'\xff\xc0')
  data[sof + 5 : sof + 9] = struct.pack('>HH', height, width)
  return bytes(data)


BOMBS = {
  'png8.png': png_declaring(100_000, 100_000),
  'png16.png': png_declaring(100_000, 100_000, bit_depth=16),
  'tiff16.tif': tiff_declaring(60_000, 60_000, 16),
  'tiff8.tif': tiff_declaring(60_000, 60_000, 8),
  'jpeg.jpg': jpeg_declaring(65_000, 65_000),
  'png_named.webp': png_declaring(100_000, 100_000),
}

BOMB_CHECK = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # 3 GiB: far below any bomb's pixels
from esrgan_jax.data import image_io
for path in sys.argv[1:]:
  try:
    image_io.read_image_size(path)  # the header only: a size, or a refusal
    image_io.read_image_raw(path)
    print('decoded', path)
  except image_io.ImageReadError as e:
    print(e)
"""


def test_decompression_bombs_are_refused_from_the_header(tmp_path):
  """In a process capped at 3 GiB of address space: a bomb's pixels (30-60 GB) are never allocated."""
  for name, data in BOMBS.items():
    (tmp_path / name).write_bytes(data)
  paths = [str(tmp_path / name) for name in BOMBS]
  result = subprocess.run(
    [sys.executable, '-c', BOMB_CHECK, *paths],
    capture_output=True,
    text=True,
    timeout=300,
    env={'PYTHONPATH': str(ROOT), 'PATH': '/usr/bin:/bin'},
  )
  assert result.returncode == 0, result.stderr[-2000:]
  lines = result.stdout.splitlines()
  assert len(lines) == len(BOMBS), result.stdout
  for line in lines:
    assert 'pixel limit (a damaged file or a decompression bomb' in line, line


@pytest.mark.parametrize('name', sorted(SAMPLES))
def test_every_sample_decodes_intact(name, tmp_path):
  (tmp_path / 'x.img').write_bytes(SAMPLES[name])
  pixels, bits = image_io.read_image_raw(tmp_path / 'x.img')
  assert bits == int(name.split('-')[1]) and pixels.shape[:2] == (9, 7)
