"""BasicSR-style sub-images: large HR images cropped into overlapping windows, written as PNG files or TFRecord shards.

Windows follow BasicSR's extract_subimages: `crop`-sized windows every `step` pixels, plus a last window flush with
the bottom/right edge when more than `thresh_size` pixels would be left over. An axis shorter than `crop` is kept
whole. Sub-image k (1-based, row-major) of `name.ext` is `name_s{k:03d}.png`. Gray and RGBA inputs are converted to
RGB (with a warning); 16-bit stays 16-bit. Shards hold `esrgan_jax.data.records` examples (TensorFlow loads only
for them).
"""

import concurrent.futures
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tqdm
from absl import logging

from esrgan_jax.data import quiet_tensorflow
from esrgan_jax.data.atomic_write import atomic_path
from esrgan_jax.data.image_io import IMAGE_EXTENSIONS, ImageReadError, encode_png, list_images, read_image_raw, to_rgb


def window_starts(length: int, crop: int, step: int, thresh_size: int = 0) -> list[int]:
  """Start offsets of the windows along one axis of `length` pixels."""
  if length <= crop:
    return [0]
  starts = list(range(0, length - crop + 1, step))
  if length - (starts[-1] + crop) > thresh_size:
    starts.append(length - crop)
  return starts


def crop_subimages(pixels: np.ndarray, crop: int, step: int, thresh_size: int = 0) -> Iterator[np.ndarray]:
  """The sub-images of an HW or HWC array, row-major."""
  h, w = pixels.shape[:2]
  for top in window_starts(h, crop, step, thresh_size):
    for left in window_starts(w, crop, step, thresh_size):
      yield pixels[top : top + crop, left : left + crop]


def _encode_subimages(
  path: Path, crop: int, step: int, thresh_size: int, compress_level: int
) -> list[tuple[str, bytes]]:
  pixels = to_rgb(read_image_raw(path)[0], str(path))
  return [
    (f'{path.stem}_s{k:03d}.png', encode_png(np.ascontiguousarray(sub), compress_level))
    for k, sub in enumerate(crop_subimages(pixels, crop, step, thresh_size), start=1)
  ]


def prepare(
  input_dir: str | os.PathLike,
  output_dir: str | os.PathLike,
  *,
  crop: int = 480,
  step: int = 240,
  thresh_size: int = 0,
  output_format: str = 'png',
  num_shards: int = 16,
  compress_level: int = 3,
  workers: int | None = None,
) -> int:
  """Writes the sub-images of every image under `input_dir` to `output_dir`; returns how many.

  TFRecord output deals sub-images round-robin over `num_shards` shards, so shard sizes differ by
  at most one. Unreadable inputs are skipped with a warning.
  """
  if output_format not in ('png', 'tfrecord'):
    raise ValueError(f"output_format must be 'png' or 'tfrecord', got {output_format!r}.")
  if crop < 1 or step < 1 or thresh_size < 0 or num_shards < 1:
    raise ValueError('crop, step and num_shards must be >= 1 and thresh_size >= 0.')
  input_dir, output_dir = Path(input_dir), Path(output_dir)
  files = list_images(input_dir) if input_dir.is_dir() else []
  if not files:
    raise ValueError(f'No images ({", ".join(IMAGE_EXTENSIONS)}) in {input_dir}.')
  if output_dir.exists() and any(output_dir.iterdir()):
    raise FileExistsError(f'{output_dir} is not empty; choose a new output folder.')
  output_dir.mkdir(parents=True, exist_ok=True)
  writers = []
  if output_format == 'tfrecord':
    from esrgan_jax.data import records  # pylint: disable=g-import-not-at-top  (TensorFlow, for shards only)

    tf = quiet_tensorflow.import_tensorflow()
    names = [f'subimages-{i:05d}-of-{num_shards:05d}{records.TFRECORD_SUFFIX}' for i in range(num_shards)]
    writers = [tf.io.TFRecordWriter(str(output_dir / name)) for name in names]
  count = 0

  def encode(path: Path) -> list[tuple[str, bytes]]:
    try:
      return _encode_subimages(path, crop, step, thresh_size, compress_level)
    except ImageReadError as e:
      logging.warning('Skipping %s', e)
      return []

  with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count()) as pool:
    for subimages in tqdm.tqdm(pool.map(encode, files), total=len(files), desc='sub-images', unit='image'):
      for name, png in subimages:
        if writers:
          writers[count % num_shards].write(records.serialize_record(name, png))
        else:
          with atomic_path(output_dir / name) as partial:
            partial.write_bytes(png)
        count += 1
  for writer in writers:
    writer.close()
  return count
