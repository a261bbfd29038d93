"""Whole validation images of any source, HR and its MATLAB-bicubic LR (or the 'paired' source's LR file).

Unreadable images are skipped with a warning naming the file; every process gets the full list (not sharded).
"""

from pathlib import Path

import ml_collections
import numpy as np
from absl import logging

from esrgan_jax.data import demo_data, quiet_tensorflow, record_sources, sources
from esrgan_jax.data.image_io import ImageReadError, decode_image_raw, read_image_raw, to_rgb
from esrgan_jax.data.imresize import imresize, modcrop
from esrgan_jax.data.quantize import to_uint8


def _val_example(name: str, hr_pixels: np.ndarray, scale: int) -> dict | None:
  """{'name', 'hr', 'lr'}: HR modcropped, LR = imresize in float64 rounded to 8-bit levels (as MATLAB)."""
  hr = modcrop(to_rgb(hr_pixels, name).astype(np.float64) / np.iinfo(hr_pixels.dtype).max, scale)
  if 0 in hr.shape:
    logging.warning('Skipping %s: smaller than the scale %d.', name, scale)
    return None
  lr = to_uint8(imresize(hr, 1 / scale)) / 255
  return {'name': name, 'lr': lr.astype(np.float32), 'hr': hr.astype(np.float32)}


def _image_id(path: Path, root: str) -> str:
  """A file name for outputs: the path under `root` without extension, '/' -> '_' ('sub/0801.png' -> 'sub_0801')."""
  return path.relative_to(root).with_suffix('').as_posix().replace('/', '_')


def _read_or_skip(path: Path) -> np.ndarray | None:
  try:
    return read_image_raw(path)[0]
  except ImageReadError as e:
    logging.warning('Skipping %s', e)
    return None


def _paired_example(hr_path: Path, lr_path: Path, scale: int, hr_dir: str) -> dict | None:
  """{'name', 'hr', 'lr'} of one HR/LR file pair, HR cropped to LR size x scale; None (warned) if unusable."""
  hr_pixels, lr_pixels = _read_or_skip(hr_path), _read_or_skip(lr_path)
  if hr_pixels is None or lr_pixels is None:
    return None
  lr = to_rgb(lr_pixels, str(lr_path)).astype(np.float32) / np.iinfo(lr_pixels.dtype).max
  hr = to_rgb(hr_pixels, str(hr_path)).astype(np.float32) / np.iinfo(hr_pixels.dtype).max
  if hr.shape[0] < lr.shape[0] * scale or hr.shape[1] < lr.shape[1] * scale:
    logging.warning(
      'Skipping %s: HR %dx%d is smaller than %d x LR %dx%d.', hr_path, *hr.shape[:2], scale, *lr.shape[:2]
    )
    return None
  return {'name': _image_id(hr_path, hr_dir), 'lr': lr, 'hr': hr[: lr.shape[0] * scale, : lr.shape[1] * scale]}


def create_val_images(data: ml_collections.ConfigDict, *, scale: int) -> list[dict]:
  """Whole validation images [{'name': str, 'lr': float32 HW3, 'hr': float32 HW3}], in [0, 1], of a data config
  that `esrgan_jax.training.config_checks` accepted.

  'name' can name output files: the demo image name, the path under hr_dir without extension
  ('/' -> '_'), the TFDS tfds_id, or the TFRecord sub-image name.

  HR is modcropped to the scale and LR = imresize(HR, 1/scale) computed in numpy float64, then rounded
  to 8-bit levels as MATLAB's uint8 output is (floor(x * 255 + 0.5) / 255, clipped). For 'paired', LR
  is read from its file and HR cropped to LR size x scale.
  """
  quiet_tensorflow.keep_accelerators_for_jax()
  examples = []
  if data.source == 'demo':
    for name in sources.demo_names(data, demo_data.DEMO_VAL_NAMES):
      examples.append(_val_example(name, demo_data.load_demo_image(name), scale))
  elif data.source == 'folder':
    for path in sources.images_in(data.hr_dir, 'hr_dir'):
      pixels = _read_or_skip(path)
      examples.append(None if pixels is None else _val_example(_image_id(path, data.hr_dir), pixels, scale))
  elif data.source == 'paired':
    examples = [_paired_example(hr, lr, scale, data.hr_dir) for hr, lr in sources.pair_by_stem(data, scale)]
  else:
    records = (
      record_sources.tfds_records(data, data.tfds_split)
      if data.source == 'tfds'
      else record_sources.tfrecord_records(record_sources.tfrecord_files(data.tfrecord_pattern))
    )
    for encoded, name in records.as_numpy_iterator():
      name = name.decode() if data.source == 'tfds' else Path(name.decode()).stem  # tfds_id, or a sub-image name.
      try:
        examples.append(_val_example(name, decode_image_raw(encoded, name)[0], scale))
      except ImageReadError as e:
        logging.warning('Skipping %s', e)
  examples = [e for e in examples if e is not None]
  if not examples:
    raise ValueError(f'No usable validation images for data.source = {data.source!r} (see the warnings above).')
  return examples
