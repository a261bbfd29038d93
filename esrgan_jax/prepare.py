"""Crops large HR images into overlapping sub-images, written once as PNG files or TFRecord shards.

    python -m esrgan_jax.prepare --input DIV2K_train_HR --output DIV2K_train_HR_sub
    python -m esrgan_jax.prepare --input DIV2K_train_HR --output div2k_sub_tfrecord --format tfrecord

Windows follow BasicSR's extract_subimages: `crop`-sized windows every `step`
pixels, plus a last window flush with the bottom/right edge when more than
`thresh_size` pixels would be left over. An axis shorter than `crop` is kept
whole. Sub-image k (1-based, row-major) of `name.ext` is `name_s{k:03d}.png`.
Gray and RGBA inputs are converted to RGB (with a warning); 16-bit stays 16-bit.
Training reads the PNG folder with `data.source = 'folder'` and the shards
with `data.source = 'tfrecord'` (tf.train.Example: `image` PNG bytes, `name`).
"""

import argparse
from collections.abc import Iterator, Sequence
import concurrent.futures
import os
from pathlib import Path
import sys

from absl import logging
import numpy as np
import tensorflow as tf
import tqdm

from esrgan_jax.image_io import IMAGE_EXTENSIONS, ImageReadError, encode_png, read_image_raw, to_rgb

RECORD_FEATURES = {'image': tf.io.FixedLenFeature([], tf.string), 'name': tf.io.FixedLenFeature([], tf.string)}
TFRECORD_SUFFIX = '.tfrecord'


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
      yield pixels[top:top + crop, left:left + crop]


def serialize_record(name: str, png: bytes) -> bytes:
  """One tf.train.Example with the `image` PNG bytes and its `name`."""
  feature = {'image': tf.train.Feature(bytes_list=tf.train.BytesList(value=[png])),
             'name': tf.train.Feature(bytes_list=tf.train.BytesList(value=[name.encode()]))}
  return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def parse_record(serialized: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """(PNG bytes, name) string tensors of one serialized record."""
  example = tf.io.parse_single_example(serialized, RECORD_FEATURES)
  return example['image'], example['name']


def _encode_subimages(path: Path, crop: int, step: int, thresh_size: int,
                      compress_level: int) -> list[tuple[str, bytes]]:
  pixels = to_rgb(read_image_raw(path)[0], str(path))
  return [(f'{path.stem}_s{k:03d}.png', encode_png(np.ascontiguousarray(sub), compress_level))
          for k, sub in enumerate(crop_subimages(pixels, crop, step, thresh_size), start=1)]


def prepare(input_dir: str | os.PathLike, output_dir: str | os.PathLike, *, crop: int = 480, step: int = 240,
            thresh_size: int = 0, output_format: str = 'png', num_shards: int = 16, compress_level: int = 3,
            workers: int | None = None) -> int:
  """Writes the sub-images of every image under `input_dir` to `output_dir`; returns how many.

  TFRecord output deals sub-images round-robin over `num_shards` shards, so shard sizes differ by
  at most one. Unreadable inputs are skipped with a warning.
  """
  if output_format not in ('png', 'tfrecord'):
    raise ValueError(f"output_format must be 'png' or 'tfrecord', got {output_format!r}.")
  if crop < 1 or step < 1 or thresh_size < 0 or num_shards < 1:
    raise ValueError('crop, step and num_shards must be >= 1 and thresh_size >= 0.')
  input_dir, output_dir = Path(input_dir), Path(output_dir)
  files = sorted(p for p in input_dir.rglob('*') if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
  if not files:
    raise ValueError(f'No images ({", ".join(IMAGE_EXTENSIONS)}) in {input_dir}.')
  if output_dir.exists() and any(output_dir.iterdir()):
    raise FileExistsError(f'{output_dir} is not empty; choose a new output folder.')
  output_dir.mkdir(parents=True, exist_ok=True)
  writers = [tf.io.TFRecordWriter(str(output_dir / f'subimages-{i:05d}-of-{num_shards:05d}{TFRECORD_SUFFIX}'))
             for i in range(num_shards)] if output_format == 'tfrecord' else []
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
          writers[count % num_shards].write(serialize_record(name, png))
        else:
          (output_dir / name).write_bytes(png)
        count += 1
  for writer in writers:
    writer.close()
  return count


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(prog='python -m esrgan_jax.prepare', description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--input', required=True, help='folder of HR images (searched recursively)')
  parser.add_argument('--output', required=True, help='new (or empty) output folder')
  parser.add_argument('--crop', type=int, default=480, help='sub-image size (default 480)')
  parser.add_argument('--step', type=int, default=240, help='stride between windows (default 240)')
  parser.add_argument('--thresh_size', type=int, default=0,
                      help='add an edge-flush last window when more than this many pixels are left (default 0)')
  parser.add_argument('--format', choices=('png', 'tfrecord'), default='png', help='PNG files or TFRecord shards')
  parser.add_argument('--num_shards', type=int, default=16, help='TFRecord shards (>= number of training hosts)')
  parser.add_argument('--compress_level', type=int, default=3, help='PNG zlib level 0-9 (default 3)')
  parser.add_argument('--workers', type=int, default=None, help='threads (default: CPU count)')
  return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the CLI; returns the exit code."""
  args = _parse_args(argv)
  try:
    count = prepare(args.input, args.output, crop=args.crop, step=args.step, thresh_size=args.thresh_size,
                    output_format=args.format, num_shards=args.num_shards, compress_level=args.compress_level,
                    workers=args.workers)
  except (ValueError, FileExistsError) as e:
    print(e, file=sys.stderr)
    return 2
  if args.format == 'tfrecord':
    where = f"data.source = 'tfrecord', data.tfrecord_pattern = '{Path(args.output) / ('*' + TFRECORD_SUFFIX)}'"
  else:
    where = f"data.source = 'folder', data.hr_dir = '{args.output}'"
  print(f'Wrote {count} sub-images to {args.output}; train on them with {where}.')
  return 0


if __name__ == '__main__':
  sys.exit(main())
