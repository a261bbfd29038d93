"""Reading and writing image files: 8/16-bit PNG and TIFF, JPEG, BMP, WebP.

Pillow decodes everything except 16-bit colour, which it truncates to 8 bits: 16-bit colour PNGs go through
imagecodecs' libpng and 16-bit colour TIFFs through tifffile (which decodes LZW, JPEG, ... with imagecodecs). PNGs
are written with imagecodecs at every depth, the other formats with Pillow (8 bits) or tifffile (16 bits).
"""

import io
import os
import struct
from pathlib import Path

import imagecodecs
import numpy as np
from absl import logging
from PIL import Image

from esrgan_jax.data import storage
from esrgan_jax.data.atomic_write import atomic_path
from esrgan_jax.data.quantize import levels_to_unit, unit_to_levels

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_TIFF_SIGNATURES = (b'II*\x00', b'MM\x00*')
_TIFF_BITS_PER_SAMPLE = 258
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # by IHDR colour type: gray, RGB, gray+alpha, RGBA
_QUANTIZE_ROWS = 256  # rows per band when write_image quantizes
_FORMAT_NAMES = 'PNG, JPEG, BMP, TIFF or WebP'
# Pillow's own refusal threshold for decompression bombs (2 x Image.MAX_IMAGE_PIXELS), checked on the header of every
# format before any pixel memory is allocated (Pillow checks only the formats it decodes, not the 16-bit colour PNGs).
MAX_PIXELS = 2 * 89_478_485


def _format_of(data: bytes) -> str | None:
  """The image format that `data`'s signature (first bytes) announces, or None."""
  if data.startswith(_PNG_SIGNATURE):
    return 'PNG'
  if data.startswith(b'\xff\xd8\xff'):
    return 'JPEG'
  if data[:4] in _TIFF_SIGNATURES:
    return 'TIFF'
  if data.startswith(b'BM'):
    return 'BMP'
  if data[:4] == b'RIFF' and data[8:12] == b'WEBP':
    return 'WebP'
  return None


def _is_cut_short(data: bytes, image_format: str, error: Exception) -> bool:
  """Whether a file of `image_format` that failed to decode with `error` ends before its last byte."""
  if image_format == 'PNG' and b'IEND' not in data[-12:]:
    return True
  if image_format == 'JPEG' and not data.rstrip(b'\x00').endswith(b'\xff\xd9'):
    return True
  text = str(error).lower()
  return 'truncat' in text or 'failed to read' in text or isinstance(error, EOFError)  # Pillow, tifffile


def _why_unreadable(data: bytes, error: Exception) -> str:
  """In words, why `data` is not a readable image: an unknown format, data cut short, or corrupt data."""
  image_format = _format_of(data)
  if image_format is None:
    return f'not a {_FORMAT_NAMES} file (it starts with {data[:8]!r})'
  if _is_cut_short(data, image_format, error):
    return f'{image_format} data truncated at byte {len(data)} (the file ends early; copy or download it again)'
  if isinstance(error, Image.DecompressionBombError):
    return _too_large(image_format, _declared_size(data))
  detail = 'its header cannot be parsed' if isinstance(error, Image.UnidentifiedImageError) else error
  return f'corrupt {image_format} data ({detail})'


def _too_large(image_format: str, size: tuple[int, int] | None = None) -> str:
  declared = f'{size[1]}x{size[0]} pixels' if size else 'more pixels'
  return (
    f'the {image_format} header declares {declared}, over the {MAX_PIXELS:,}-pixel limit (a damaged file or a '
    'decompression bomb; split a real image this large into parts)'
  )


def _declared_size(data: bytes) -> tuple[int, int] | None:
  """(height, width) that a PNG or TIFF header declares, or None (Pillow checks the other formats' headers)."""
  if data.startswith(_PNG_SIGNATURE) and len(data) >= 24:
    width, height = struct.unpack('>II', data[16:24])
    return height, width
  if data[:4] in _TIFF_SIGNATURES:
    import tifffile  # pylint: disable=g-import-not-at-top

    try:
      with tifffile.TiffFile(io.BytesIO(data)) as tif:
        return tif.pages[0].imagelength, tif.pages[0].imagewidth
    except Exception:  # noqa: BLE001  (a broken header: decoding reports it)
      return None
  return None


class ImageReadError(ValueError):
  """An image that is missing, empty, not an image, or truncated; the message names the file."""


def list_images(path: str | os.PathLike, *, recursive: bool = True) -> list[Path]:
  """`path` itself if it is a file, else the image files (by IMAGE_EXTENSIONS) in it, sorted; below it too when
  `recursive`. A missing path gives []."""
  path = Path(path)
  if path.is_file():
    return [path]
  if not path.is_dir():
    return []
  found = path.rglob('*') if recursive else path.iterdir()
  return sorted(p for p in found if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def _is_16bit_color_png(data: bytes) -> bool:
  # IHDR: bit depth at byte 24, colour type at byte 25 (2 = RGB, 4 = gray+alpha, 6 = RGBA).
  return data[:8] == _PNG_SIGNATURE and len(data) >= 26 and data[24] == 16 and data[25] in (2, 4, 6)


def _pillow_pixels(image: Image.Image) -> tuple[np.ndarray, int]:
  """Pixels of a Pillow image as uint8/uint16 HW or HWC, and the bit depth."""
  if image.mode in ('I;16', 'I;16B', 'I;16L', 'I'):
    pixels = np.asarray(image)
    if pixels.min() < 0 or pixels.max() > 65535:
      raise ValueError(f'{image.mode} pixels outside the 16-bit range')
    return pixels.astype(np.uint16), 16
  if image.mode == 'F':
    raise ValueError('32-bit float images are not supported; save it as 8- or 16-bit')
  if image.mode == '1':
    image = image.convert('L')
  elif image.mode == 'P':
    image = image.convert('RGBA' if 'transparency' in image.info else 'RGB')
  elif image.mode not in ('L', 'LA', 'RGB', 'RGBA'):
    image = image.convert('RGB')  # CMYK, YCbCr, ...
  return np.asarray(image, dtype=np.uint8), 8


def _tifffile_pixels(data: bytes) -> tuple[np.ndarray, int]:
  import tifffile  # pylint: disable=g-import-not-at-top

  with tifffile.TiffFile(io.BytesIO(data)) as tif:
    page = tif.pages[0]
    pixels = page.asarray()
    if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE and pixels.ndim == 3:
      pixels = np.moveaxis(pixels, 0, -1)
  if pixels.dtype not in (np.uint8, np.uint16):
    raise ValueError(f'{pixels.dtype} TIFF samples are not supported; save it as 8- or 16-bit')
  return pixels, 8 * pixels.itemsize


def _decode(data: bytes) -> tuple[np.ndarray, int]:
  if _is_16bit_color_png(data):
    # libpng adds an alpha channel for a tRNS chunk; the pixels are returned as stored, without it.
    return imagecodecs.png_decode(data)[..., : _PNG_CHANNELS[data[25]]], 16
  is_tiff = data[:4] in _TIFF_SIGNATURES
  try:
    image = Image.open(io.BytesIO(data))
  except Image.UnidentifiedImageError:
    if is_tiff:  # Pillow opens no 16-bit gray+alpha TIFF.
      return _tifffile_pixels(data)
    raise
  with image:
    bits = image.tag_v2.get(_TIFF_BITS_PER_SAMPLE) if is_tiff else None
    if bits is not None and len(image.getbands()) > 1 and max(np.atleast_1d(bits)) == 16:
      return _tifffile_pixels(data)  # Pillow would truncate to 8 bits.
    image.load()
    return _pillow_pixels(image)


def decode_image_raw(data: bytes, name: str) -> tuple[np.ndarray, int]:
  """Decodes encoded image bytes as stored: (uint8/uint16 HW or HWC with C in 1..4, bits 8 or 16).

  `name` (a path or record name) goes into the ImageReadError raised for empty or bad data.
  """
  if not data:
    raise ImageReadError(f'{name}: the file is empty (0 bytes).')
  size = _declared_size(data)
  if size is not None and size[0] * size[1] > MAX_PIXELS:
    raise ImageReadError(f'{name}: {_too_large(_format_of(data), size)}.')
  try:
    pixels, bits = _decode(data)
  except Exception as e:  # Pillow, tifffile and imagecodecs raise many types for bad data.
    raise ImageReadError(f'{name}: {_why_unreadable(data, e)}.') from e
  if pixels.ndim == 3 and pixels.shape[-1] == 1:
    pixels = pixels[..., 0]
  if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[-1] > 4) or 0 in pixels.shape:
    raise ImageReadError(f'{name}: unsupported image layout {pixels.shape} (expected HW or HWC, C <= 4).')
  return pixels, bits


def _read_bytes(path: Path) -> bytes:
  try:
    return path.read_bytes()
  except OSError as e:
    raise ImageReadError(f'{path}: cannot open ({e.strerror or e}).') from e


def read_image_raw(path: str | os.PathLike) -> tuple[np.ndarray, int]:
  """Decodes `path` as stored: (uint8/uint16 HW or HWC with C in 1..4, bit depth 8 or 16).

  Raises ImageReadError (naming the file) for missing, empty, unrecognised or truncated files.
  """
  return decode_image_raw(_read_bytes(Path(path)), str(path))


def read_image_size(source: str | os.PathLike | bytes, name: str | None = None) -> tuple[int, int]:
  """(height, width) from the header of a file or of encoded bytes, without decoding the pixels.

  Raises ImageReadError for missing, empty or unrecognised data (truncated pixel data is only found by decoding).
  """
  name = name or str(source)
  if isinstance(source, bytes):
    if not source:
      raise ImageReadError(f'{name}: the file is empty (0 bytes).')
    opened = io.BytesIO(source)
  else:
    opened = Path(source)
    try:
      if opened.stat().st_size == 0:
        raise ImageReadError(f'{name}: the file is empty (0 bytes).')
    except OSError as e:
      raise ImageReadError(f'{name}: cannot open ({e.strerror or e}).') from e
  try:
    with Image.open(opened) as image:
      return image.height, image.width
  except Exception as e:  # pylint: disable=broad-except
    error = e
  data = source if isinstance(source, bytes) else _read_bytes(opened)
  if data[:4] in _TIFF_SIGNATURES and (size := _declared_size(data)):  # A TIFF Pillow cannot open (16-bit gray+alpha)
    return size
  raise ImageReadError(f'{name}: {_why_unreadable(data, error)}.') from error


def to_rgb(pixels: np.ndarray, name: str = 'image', *, warn: bool = True) -> np.ndarray:
  """HW or HWC (C = 1..4) -> HW3: gray repeated, alpha dropped, each with a logged warning if `warn`."""
  if pixels.ndim == 2:
    pixels = pixels[..., None]
  channels = pixels.shape[-1]
  if channels in (2, 4):
    if warn:
      logging.warning('%s has an alpha channel; it is dropped.', name)
    pixels = pixels[..., : channels - 1]
  if pixels.shape[-1] == 1:
    if warn:
      logging.warning('%s is grayscale; it is repeated to RGB.', name)
    pixels = np.repeat(pixels, 3, axis=-1)
  return pixels


def read_image(path: str | os.PathLike) -> np.ndarray:
  """Reads `path` as float32 HW3 RGB in [0, 1] (gray -> RGB and RGBA -> RGB with a warning)."""
  pixels, bits = read_image_raw(path)
  return levels_to_unit(to_rgb(pixels, str(path)))


def encode_png(pixels: np.ndarray, compress_level: int = 3) -> bytes:
  """PNG bytes of uint8 or uint16 HW or HWC (C = 1..4) pixels; `compress_level` is zlib's, 0-9."""
  if pixels.dtype not in (np.uint8, np.uint16):
    raise ValueError(f'encode_png needs uint8 or uint16 pixels, got {pixels.dtype}.')
  return imagecodecs.png_encode(np.ascontiguousarray(pixels), level=compress_level)  # Pillow: no 16-bit colour


def write_image(path: str | os.PathLike, image: np.ndarray, bit_depth: int = 8) -> None:
  """Writes float HW or HWC (C = 1..4) in [0, 1] (clipped, rounded) as an 8- or 16-bit file.

  The format follows the extension; 16 bits needs .png or .tif/.tiff. JPEG and WebP use quality 95.
  """
  path = storage.path(path)
  ext = path.suffix.lower()
  if bit_depth not in (8, 16):
    raise ValueError(f'bit_depth must be 8 or 16, got {bit_depth}.')
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] > 4):
    raise ValueError(f'{path}: expected an HW or HWC image with C <= 4, got shape {image.shape}.')
  if bit_depth == 16 and ext not in ('.png', '.tif', '.tiff'):
    raise ValueError(f'{path}: 16-bit output needs .png or .tif/.tiff, not {ext!r}.')
  if ext in ('.jpg', '.jpeg') and image.ndim == 3 and image.shape[-1] in (2, 4):
    raise ValueError(f'{path}: JPEG has no alpha channel; write .png instead.')
  max_value = 2**bit_depth - 1
  pixels = np.empty(image.shape, np.uint8 if bit_depth == 8 else np.uint16)
  for top in range(0, image.shape[0], _QUANTIZE_ROWS):  # in bands: quantize's float64 copies stay small
    pixels[top : top + _QUANTIZE_ROWS] = unit_to_levels(image[top : top + _QUANTIZE_ROWS], max_value)
  encoded = io.BytesIO()  # then written in one piece, to a URL too
  if bit_depth == 8:
    Image.init()
    if ext not in Image.registered_extensions():
      raise ValueError(f'unknown file extension: {ext}')  # PIL's words when it is given a file name
    Image.fromarray(pixels).save(
      encoded,
      format=Image.registered_extensions()[ext],
      **({'quality': 95} if ext in ('.jpg', '.jpeg', '.webp') else {}),
    )
  elif ext == '.png':
    encoded.write(encode_png(pixels, compress_level=6))
  else:
    import tifffile  # pylint: disable=g-import-not-at-top

    channels = pixels.shape[-1] if pixels.ndim == 3 else 1
    tifffile.imwrite(
      encoded,
      pixels,
      photometric='rgb' if channels >= 3 else 'minisblack',
      planarconfig='contig' if channels > 1 else None,
      extrasamples=('unassalpha',) if channels in (2, 4) else None,
    )
  with atomic_path(path) as partial:  # never a half-written file under `path`
    partial.write_bytes(encoded.getvalue())
