"""Throughput of the training input pipeline: HR/LR patch pairs per second on this machine.

    python benchmarks/input_pipeline.py [--gt_size 128] [--batch 16] [--seconds 10]

Makes a temporary folder of large photos (scikit-image photos upscaled to about
2000 px, like DIV2K) and its 480-px sub-images (`prepare` defaults), then times:
  1. tf.data, folder of large images, cache=True (decoded once, crops from memory);
  2. tf.data, folder of sub-images, cache=False (a PNG decode per patch, as BasicSR);
  3. a BasicSR-style loop in one Python thread: Pillow decode of a sub-image, random crop,
     numpy `imresize` per patch, numpy flips (BasicSR runs several of these in worker processes).
LR is made on the fly by MATLAB bicubic in all three.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

# Per-patch numpy work is too small for BLAS threads, which only contend (as in a DataLoader worker).
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
from PIL import Image

from esrgan_jax.data import demo_data
from esrgan_jax.data.image_io import read_image
from esrgan_jax.data.imresize import imresize
from esrgan_jax.data.input_pipeline import create_train_dataset
from esrgan_jax.prepare import prepare
from esrgan_jax.training import default_config

_PHOTOS = ('astronaut', 'rocket', 'hubble_deep_field', 'coffee')


def _make_large_images(folder: Path, long_side: int = 2000) -> None:
  for name in _PHOTOS:
    image = Image.fromarray(demo_data.load_demo_image(name))
    factor = long_side / max(image.size)
    image.resize((round(image.width * factor), round(image.height * factor)), Image.LANCZOS).save(
      folder / f'{name}.png', compress_level=3
    )


def _time_tf(config, gt_size: int, scale: int, batch: int, seconds: float) -> float:
  dataset = create_train_dataset(
    config, scale=scale, gt_size=gt_size, global_batch_size=batch, seed=0, process_index=0, process_count=1
  )
  iterator = iter(dataset)
  for _ in range(5):  # Warm up: graph tracing, thread pools, caches.
    next(iterator)
  start, patches = time.perf_counter(), 0
  while time.perf_counter() - start < seconds:
    next(iterator)['lr'].numpy()
    patches += batch
  return patches / (time.perf_counter() - start)


def _time_numpy_loop(files: list[Path], gt_size: int, scale: int, seconds: float) -> float:
  rng = np.random.default_rng(0)
  start, patches = time.perf_counter(), 0
  while time.perf_counter() - start < seconds:
    hr = read_image(files[rng.integers(len(files))])
    top, left = rng.integers(hr.shape[0] - gt_size + 1), rng.integers(hr.shape[1] - gt_size + 1)
    hr = hr[top : top + gt_size, left : left + gt_size]
    hr = hr[:, ::-1] if rng.random() < 0.5 else hr
    hr = hr[::-1] if rng.random() < 0.5 else hr
    hr = hr.transpose(1, 0, 2) if rng.random() < 0.5 else hr
    np.floor(np.clip(imresize(hr, 1 / scale), 0, 1) * 255 + 0.5) / 255  # the LR partner, as the loader makes it
    patches += 1
  return patches / (time.perf_counter() - start)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--gt_size', type=int, default=128)
  parser.add_argument('--scale', type=int, default=4)
  parser.add_argument('--batch', type=int, default=16)
  parser.add_argument('--seconds', type=float, default=10.0)
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as tmp:
    large, subimages = Path(tmp) / 'large', Path(tmp) / 'sub'
    large.mkdir()
    _make_large_images(large)
    prepare(large, subimages)
    sub_files = sorted(subimages.iterdir())
    print(
      f'{len(_PHOTOS)} large images (~2000 px), {len(sub_files)} sub-images of 480 px; '
      f'gt_size {args.gt_size}, x{args.scale}, batch {args.batch}, {os.cpu_count()} CPUs'
    )
    config = default_config.data_config()
    config.update(source='folder', hr_dir=str(large), cache=True)
    rate = _time_tf(config, args.gt_size, args.scale, args.batch, args.seconds)
    print(f'tf.data folder, cache=True (large images in memory):  {rate:8.1f} patch pairs/s')
    config.update(hr_dir=str(subimages), cache=False)
    rate = _time_tf(config, args.gt_size, args.scale, args.batch, args.seconds)
    print(f'tf.data folder, cache=False (decode a sub-image each): {rate:8.1f} patch pairs/s')
    rate = _time_numpy_loop(sub_files, args.gt_size, args.scale, args.seconds)
    print(f'BasicSR-style numpy loop, one thread (decode each):   {rate:8.1f} patch pairs/s')


if __name__ == '__main__':
  main()
