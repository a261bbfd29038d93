"""Throughput of the training input pipeline, and whether the train loop hides it behind the steps.

    python benchmarks/input_pipeline.py [--gt_size 128] [--batch 16] [--seconds 10] [--loop_gt_sizes 32 128]

Makes a temporary folder of large photos (scikit-image photos upscaled to about
2000 px, like DIV2K) and its 480-px sub-images (`prepare` defaults), then times:
  1. tf.data, folder of large images, cache=True (decoded once, crops from memory);
  2. tf.data, folder of sub-images, cache=False (a PNG decode per patch, as BasicSR);
  3. a BasicSR-style loop in one Python thread: Pillow decode of a sub-image, random crop,
     numpy `imresize` per patch, numpy flips (BasicSR runs several of these in worker processes).
LR is made on the fly by MATLAB bicubic in all three. Then, per `--loop_gt_sizes` patch size, the PSNR train loop as
`main` builds it (`step_builder.build_train_step`: jitted step, donated state, no host sync per step) with a tiny
RRDBNet (8 features, 1 block: a step short enough for input time to show), in steps/s (the three loops take turns, 5
rounds of ~`--seconds`/5 each):
  a. on one fixed batch already on the device (no input work at all);
  b. fed by the tf.data pipeline of 1. through `training.prefetch.prefetch_to_device` (as `train` runs);
  c. fed by the same pipeline without device prefetch (each batch put on the device when its step is called).
b / a near 1 means the input time is hidden. On CPU the pipeline's threads share the cores with the step.
"""

import argparse
import functools
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# Per-patch numpy work is too small for BLAS threads, which only contend (as in a DataLoader worker).
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

from esrgan_jax import runtime  # pylint: disable=g-import-not-at-top,wrong-import-position

runtime.use_fast_cpu_flags(training=True)  # as `python -m esrgan_jax.main` trains

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np
import timing
from PIL import Image

from esrgan_jax.configs import default
from esrgan_jax.data import demo_data
from esrgan_jax.data.image_io import read_image
from esrgan_jax.data.imresize import imresize
from esrgan_jax.data.input_pipeline import create_train_dataset
from esrgan_jax.prepare import prepare
from esrgan_jax.training import step_builder, steps
from esrgan_jax.training.prefetch import prefetch_to_device

TINY_NET = dict(num_feat=8, num_block=1, num_grow_ch=4)  # config.model fields of the train loop's RRDBNet
ROUNDS, MIN_CHUNK_STEPS = 5, 4  # the loop's timing: rounds of a chunk of steps per loop

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


def _time_train_loop(data, gt_size: int, scale: int, batch: int, seconds: float) -> dict[str, float]:
  """Steps/s of the PSNR train loop: {'fixed batch', 'tf.data + prefetch', 'tf.data, no prefetch'} (see above),
  timed in turns (`timing.interleave`, 5 rounds of a chunk of steps each, ~`seconds` in all per loop)."""
  config = default.get_config()
  config.scale = scale
  config.model.update(TINY_NET)
  config.psnr.update(batch_size=batch, gt_size=gt_size)
  step = step_builder.build_train_step(config, 'psnr', steps.create_mesh())  # as `main` builds it

  def stream() -> Iterator:
    dataset = create_train_dataset(data, scale=scale, gt_size=gt_size, global_batch_size=batch, seed=0)
    return dataset.as_numpy_iterator()

  fixed = step.place(next(stream()))
  loops = {
    'fixed batch': iter(lambda: fixed, None),
    'tf.data + prefetch': prefetch_to_device(stream(), step.place),
    'tf.data, no prefetch': map(step.place, stream()),
  }
  states = {name: step.init() for name in loops}
  chunk = [5]  # steps per timed call; set from the fixed batch's step time after the warm-up

  def run_chunk(name: str) -> None:
    state = states[name]
    for _ in range(chunk[0]):
      state, _ = step(state, next(loops[name]))
    states[name] = jax.block_until_ready(state)

  run_chunk('fixed batch')  # compile
  start = time.perf_counter()
  run_chunk('fixed batch')
  chunk[0] = max(MIN_CHUNK_STEPS, round(seconds / ROUNDS / ((time.perf_counter() - start) / chunk[0])))
  times = timing.interleave({name: functools.partial(run_chunk, name) for name in loops}, ROUNDS)
  return {name: chunk[0] / statistics.median(t) for name, t in times.items()}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--gt_size', type=int, default=128)
  parser.add_argument('--scale', type=int, default=4)
  parser.add_argument('--batch', type=int, default=16)
  parser.add_argument('--seconds', type=float, default=10.0)
  parser.add_argument('--loop_gt_sizes', type=int, nargs='*', default=(32, 128), help='HR patch sizes of the loop')
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
    config = default.data_config()
    config.update(source='folder', hr_dir=str(large), cache=True)
    rate = _time_tf(config, args.gt_size, args.scale, args.batch, args.seconds)
    print(f'tf.data folder, cache=True (large images in memory):  {rate:8.1f} patch pairs/s')
    config.update(hr_dir=str(subimages), cache=False)
    rate = _time_tf(config, args.gt_size, args.scale, args.batch, args.seconds)
    print(f'tf.data folder, cache=False (decode a sub-image each): {rate:8.1f} patch pairs/s')
    rate = _time_numpy_loop(sub_files, args.gt_size, args.scale, args.seconds)
    print(f'BasicSR-style numpy loop, one thread (decode each):   {rate:8.1f} patch pairs/s')
    config.update(hr_dir=str(large), cache=True)
    for gt_size in args.loop_gt_sizes:
      with timing.OtherLoad() as load:
        rates = _time_train_loop(config, gt_size, args.scale, args.batch, args.seconds)
      fixed = rates['fixed batch']
      print(
        f'PSNR train loop, tiny RRDBNet, gt_size {gt_size}, batch {args.batch} (other load {load.cores:.2f} cores): '
        + ', '.join(f'{name} {rate:.2f} steps/s ({rate / fixed:.2f}x)' for name, rate in rates.items()),
        flush=True,
      )


if __name__ == '__main__':
  main()
