"""Tests for esrgan_jax.data.image_io: formats, bit depths, channel handling, errors naming the file."""

import io
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image

from esrgan_jax.data import quiet_tensorflow
from esrgan_jax.data.image_io import (
  ImageReadError,
  decode_image_raw,
  encode_png,
  read_image,
  read_image_raw,
  read_image_size,
  write_image,
)
from esrgan_jax.data.quantize import unit_to_levels


def _random(shape, seed=0):
  return np.random.default_rng(seed).random(shape)


@pytest.mark.parametrize('ext', ['.png', '.tif'])
@pytest.mark.parametrize('bits', [8, 16])
@pytest.mark.parametrize('channels', [1, 2, 3, 4])
def test_lossless_round_trip_keeps_depth_and_channels(tmp_path, ext, bits, channels):
  image = _random((5, 7) if channels == 1 else (5, 7, channels))
  path = tmp_path / f'image{ext}'
  write_image(path, image, bit_depth=bits)
  pixels, read_bits = read_image_raw(path)
  assert read_bits == bits
  assert pixels.dtype == (np.uint8 if bits == 8 else np.uint16)
  np.testing.assert_array_equal(pixels, np.round(image * (2**bits - 1)))


def test_16bit_rgb_png_keeps_16_bits(tmp_path):
  # Pillow alone would truncate this to 8 bits.
  image = _random((4, 6, 3))
  write_image(tmp_path / 'a.png', image, bit_depth=16)
  np.testing.assert_allclose(read_image(tmp_path / 'a.png'), image, atol=0.5 / 65535 + 1e-7)


def test_planar_16bit_tiff(tmp_path):
  pixels = np.random.default_rng(1).integers(0, 65536, (5, 7, 3), dtype=np.uint16)
  tifffile.imwrite(tmp_path / 'p.tif', np.moveaxis(pixels, -1, 0), photometric='rgb', planarconfig='separate')
  np.testing.assert_array_equal(read_image_raw(tmp_path / 'p.tif')[0], pixels)


@pytest.mark.parametrize('ext, atol', [('.bmp', 0.5 / 255 + 1e-7), ('.jpg', 0.1), ('.webp', 0.1)])
def test_other_formats_read_as_float_rgb(tmp_path, ext, atol):
  ramp = np.linspace(0, 1, 32)
  image = np.stack([np.add.outer(ramp, ramp) / 2, np.tile(ramp, (32, 1)), np.tile(ramp[:, None], (1, 32))], -1)
  write_image(tmp_path / f'a{ext}', image)
  out = read_image(tmp_path / f'a{ext}')
  assert out.dtype == np.float32 and out.shape == (32, 32, 3)
  assert 0 <= out.min() and out.max() <= 1
  np.testing.assert_allclose(out, image, atol=atol)


def test_gray_and_rgba_become_rgb_with_a_warning(tmp_path, caplog):
  gray = np.random.default_rng(2).integers(0, 256, (6, 5), dtype=np.uint8)
  Image.fromarray(gray).save(tmp_path / 'gray.png')
  rgba = np.random.default_rng(3).integers(0, 256, (6, 5, 4), dtype=np.uint8)
  Image.fromarray(rgba).save(tmp_path / 'rgba.png')
  with caplog.at_level('WARNING'):
    out_gray = read_image(tmp_path / 'gray.png')
    out_rgba = read_image(tmp_path / 'rgba.png')
  np.testing.assert_array_equal(out_gray, np.repeat(gray[..., None], 3, -1) / np.float32(255))
  np.testing.assert_array_equal(out_rgba, rgba[..., :3] / np.float32(255))
  assert 'gray.png is grayscale' in caplog.text and 'rgba.png has an alpha channel' in caplog.text


def test_palette_and_bilevel_images(tmp_path):
  rgb = np.random.default_rng(4).integers(0, 256, (6, 5, 3), dtype=np.uint8)
  Image.fromarray(rgb).convert('P').save(tmp_path / 'p.png')
  Image.fromarray(rgb).convert('1').save(tmp_path / 'b.png')
  assert read_image_raw(tmp_path / 'p.png')[0].shape == (6, 5, 3)
  bilevel, bits = read_image_raw(tmp_path / 'b.png')
  assert bilevel.shape == (6, 5) and bits == 8 and set(np.unique(bilevel)) <= {0, 255}


def _truncated(tmp_path, name, image, bits=8):
  write_image(tmp_path / f'full_{name}', image, bit_depth=bits)
  data = (tmp_path / f'full_{name}').read_bytes()
  (tmp_path / name).write_bytes(data[: len(data) // 2])
  return tmp_path / name


@pytest.mark.parametrize(
  'case', ['empty', 'not_an_image', 'missing', 'truncated_png', 'truncated_jpg', 'truncated_png16', 'truncated_tif16']
)
def test_bad_files_raise_image_read_error_naming_the_file(tmp_path, case):
  image = _random((64, 64, 3))
  if case == 'empty':
    path, reason = tmp_path / 'x.png', 'empty'
    path.write_bytes(b'')
  elif case == 'not_an_image':
    path, reason = tmp_path / 'x.png', r"not a PNG, JPEG, BMP, TIFF or WebP file \(it starts with b'definite'\)"
    path.write_bytes(b'definitely not a png' * 4)
  elif case == 'missing':
    path, reason = tmp_path / 'x.png', 'cannot open'
  else:
    name = {
      'truncated_png': 'x.png',
      'truncated_jpg': 'x.jpg',
      'truncated_png16': 'x16.png',
      'truncated_tif16': 'x16.tif',
    }[case]
    path = _truncated(tmp_path, name, image, 16 if '16' in case else 8)
    reason = f'{"TIFF" if name.endswith(".tif") else name[-3:].upper().replace("JPG", "JPEG")} data truncated at byte '
    reason += str(path.stat().st_size)
  with pytest.raises(ImageReadError, match=reason) as error:
    read_image(path)
  assert str(path) in str(error.value) and 'BytesIO' not in str(error.value)
  assert isinstance(error.value, ValueError)


def test_write_image_rejects_what_the_format_cannot_hold(tmp_path):
  with pytest.raises(ValueError, match='16-bit output'):
    write_image(tmp_path / 'a.jpg', _random((4, 4, 3)), bit_depth=16)
  with pytest.raises(ValueError, match='no alpha'):
    write_image(tmp_path / 'a.jpg', _random((4, 4, 4)))
  with pytest.raises(ValueError, match='C <= 4'):
    write_image(tmp_path / 'a.png', _random((4, 4, 5)))


def test_write_image_clips_and_rounds(tmp_path):
  write_image(tmp_path / 'a.png', np.array([[-0.5, 0.5 / 255 - 1e-6, 0.5 / 255 + 1e-6, 1.7]]))
  np.testing.assert_array_equal(read_image_raw(tmp_path / 'a.png')[0], [[0, 0, 1, 255]])


def test_read_image_size_from_header_of_files_and_bytes(tmp_path):
  write_image(tmp_path / 'a.png', _random((5, 7, 3)))
  write_image(tmp_path / 'b.tif', _random((6, 4, 2)), bit_depth=16)  # Pillow cannot open this one.
  assert read_image_size(tmp_path / 'a.png') == (5, 7)
  assert read_image_size(tmp_path / 'b.tif') == (6, 4)
  assert read_image_size((tmp_path / 'a.png').read_bytes(), 'record') == (5, 7)
  (tmp_path / 'empty.png').write_bytes(b'')
  with pytest.raises(ImageReadError, match='empty.png: the file is empty'):
    read_image_size(tmp_path / 'empty.png')
  with pytest.raises(ImageReadError, match='record-7: not a PNG, JPEG, BMP, TIFF or WebP file'):
    read_image_size(b'junk' * 10, 'record-7')
  with pytest.raises(ImageReadError, match='cannot open'):
    read_image_size(tmp_path / 'missing.png')


def test_corrupt_header_is_named_without_object_reprs():
  data = bytearray(encode_png(np.zeros((4, 4, 3), np.uint8)))
  data[12:16] = b'XXXX'  # the IHDR chunk's type
  with pytest.raises(ImageReadError, match=r'^a.png: corrupt PNG data \(its header cannot be parsed\)\.$'):
    decode_image_raw(bytes(data), 'a.png')


def test_encode_png_and_decode_image_raw_round_trip():
  for pixels in [
    np.random.default_rng(5).integers(0, 256, (3, 4, 3), dtype=np.uint8),
    np.random.default_rng(6).integers(0, 65536, (3, 4), dtype=np.uint16),
  ]:
    decoded, bits = decode_image_raw(encode_png(pixels), 'x')
    np.testing.assert_array_equal(decoded, pixels)
    assert bits == 8 * pixels.itemsize
  with pytest.raises(ImageReadError, match='rec: the file is empty'):
    decode_image_raw(b'', 'rec')


@pytest.mark.parametrize('dtype', [np.uint8, np.uint16])
@pytest.mark.parametrize('channels', [1, 2, 3, 4])
def test_png_codec_agrees_with_tensorflows_both_ways(dtype, channels):
  """The PNG pixels are those TensorFlow's codec (which wrote and read them before imagecodecs) writes and reads."""
  tf = quiet_tensorflow.import_tensorflow()  # the [test] extra installs the [train] one
  pixels = np.random.default_rng(channels).integers(0, np.iinfo(dtype).max + 1, (9, 11, channels), dtype=dtype)
  tf_dtype = tf.uint8 if dtype == np.uint8 else tf.uint16
  np.testing.assert_array_equal(tf.io.decode_png(encode_png(pixels), channels=0, dtype=tf_dtype).numpy(), pixels)
  decoded, bits = decode_image_raw(tf.io.encode_png(pixels).numpy(), 'tf.png')
  np.testing.assert_array_equal(decoded, pixels if channels > 1 else pixels[..., 0])
  assert bits == 8 * pixels.itemsize


def test_16bit_rgb_png_with_a_transparent_colour_keeps_its_three_channels():
  """A tRNS chunk (one colour marked transparent) is not turned into an alpha channel: the pixels come as stored."""
  pixels = np.random.default_rng(7).integers(0, 65536, (5, 6, 3), dtype=np.uint16)
  data = encode_png(pixels)
  trns = b'tRNS' + np.asarray(pixels[0, 0], '>u2').tobytes()
  chunk = len(trns[4:]).to_bytes(4, 'big') + trns + zlib.crc32(trns).to_bytes(4, 'big')
  with_trns = data[:33] + chunk + data[33:]  # after the signature (8 bytes) and IHDR (25 bytes)
  decoded, bits = decode_image_raw(with_trns, 'trns.png')
  np.testing.assert_array_equal(decoded, pixels)
  assert bits == 16


def test_16bit_lzw_tiff_is_read():
  """tifffile decodes LZW (the usual compression of image editors' 16-bit TIFFs) with imagecodecs."""
  pixels = np.random.default_rng(8).integers(0, 65536, (5, 7, 3), dtype=np.uint16)
  encoded = io.BytesIO()
  tifffile.imwrite(encoded, pixels, photometric='rgb', compression='lzw')
  np.testing.assert_array_equal(decode_image_raw(encoded.getvalue(), 'lzw.tif')[0], pixels)


def test_written_levels_are_the_web_apps_and_the_devices(tmp_path):
  """float32 values whose float32 product with 255 rounds across a level's .5 boundary (the float64 one does not):
  the file holds the levels of `unit_to_levels` (the web app's display) and of the device's quantized output."""
  x = np.arange(0, 1, 2.0**-20, dtype=np.float32)
  boundary = x[np.floor(x * np.float32(255) + 0.5) != np.floor(x.astype(np.float64) * 255 + 0.5)]
  assert boundary.size >= 3
  image = np.repeat(boundary[:3, None, None], 3, axis=2).reshape(1, 3, 3)
  write_image(tmp_path / 'b.png', image)
  written = read_image_raw(tmp_path / 'b.png')[0]
  np.testing.assert_array_equal(written, unit_to_levels(image))
  np.testing.assert_array_equal(written, np.floor(image * np.float32(255) + np.float32(0.5)).astype(np.uint8))
