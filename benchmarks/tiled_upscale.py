"""A large image through the tiled upscale path: ours (`tiling.upscale_image` + `make_apply_fn`, blended
overlapping tiles) vs a Real-ESRGAN-style PyTorch tiler (non-overlapping core tiles cut from padded crops), fp32.

    python benchmarks/tiled_upscale.py [--quick] [--size 2048] [--num_block 23] [--tile 512] [--tile_pad 16]
                                       [--json FILE]

Both use the same weights and the same tile size and padding. Reported: seconds per image (the two tilers take turns
in one process); memory, from one upscale per tiler in a fresh process that loads only what that tiler's users load
(ours: the esrgan_jax model file, as the upscale CLI; the other: torch and a state dict), as for a user's first image:
the process's peak RSS (ours includes compiling) and how far RSS rose above its level before the call; and, where the
untiled output fits in memory (--size <= 512), how far each tiled output is from the untiled output of ours
(PyTorch's agrees to float32 rounding) -- all of the difference sits near tile borders: max |difference|, its mean
within `tile_pad * scale` output pixels of the tile grid lines, and the share of pixels off by one 8-bit level or more.
2048x2048 with 23 blocks costs about 150 TFLOP per image, some 15 minutes per pass on 2 CPU cores: on CPU use
--quick (256x256, tile 128, 23 blocks).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil
import timing

OURS, TORCH_TILER = 'ours tiled fp32', 'Real-ESRGAN-style torch'
SCALE = 4  # RRDBNet x4


def realesrgan_style_tiles(run, image: np.ndarray, scale: int, tile: int, tile_pad: int) -> np.ndarray:
  """Real-ESRGAN's tiling: each `tile` x `tile` core tile is run with up to `tile_pad` context pixels on each side
  (cut at the image border), one tile per call of `run` ([1, h, w, 3] -> [1, h*scale, w*scale, 3] numpy), and only
  the core tile's output is kept -- no blending."""
  height, width = image.shape[:2]
  out = np.zeros((height * scale, width * scale, 3), np.float32)
  for top in range(0, height, tile):
    for left in range(0, width, tile):
      bottom, right = min(top + tile, height), min(left + tile, width)
      y0, x0 = max(top - tile_pad, 0), max(left - tile_pad, 0)
      result = run(image[None, y0 : min(bottom + tile_pad, height), x0 : min(right + tile_pad, width)])[0]
      oy, ox = (top - y0) * scale, (left - x0) * scale
      out[top * scale : bottom * scale, left * scale : right * scale] = result[
        oy : oy + (bottom - top) * scale, ox : ox + (right - left) * scale
      ]
  return out


def realesrgan_style_covered(height: int, width: int, tile: int, tile_pad: int) -> float:
  """Input pixels `realesrgan_style_tiles` runs the network on per image pixel."""
  axis = lambda n: sum(min(s + tile + tile_pad, n) - max(s - tile_pad, 0) for s in range(0, n, tile))
  return axis(height) * axis(width) / (height * width)


def ours_tiler(model_file: Path, args) -> Callable[[np.ndarray], np.ndarray]:
  """Upscales as `python -m esrgan_jax.upscale --tile` does: a model file, for_platform, make_apply_fn and
  upscale_image."""
  from esrgan_jax import runtime
  from esrgan_jax.inference import apply, tiling
  from esrgan_jax.weights import generator_files

  module, params = generator_files.load_generator_file(model_file)
  module = runtime.for_platform(module)
  apply_fn = apply.make_apply_fn(module, params)
  return lambda image: tiling.upscale_image(
    apply_fn, image, scale=module.scale, tile=args.tile, tile_pad=args.tile_pad, batch_tiles=args.batch_tiles
  )


def torch_tiler(state_file: Path, args) -> Callable[[np.ndarray], np.ndarray]:
  import torch  # pylint: disable=g-import-not-at-top

  net = timing.import_torch_reference().TorchRRDBNet(num_block=args.num_block).eval()
  net.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(state_file).items()})

  def run(x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
      return net(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy().transpose(0, 2, 3, 1)

  return lambda image: realesrgan_style_tiles(run, image, SCALE, args.tile, args.tile_pad)


def write_weights(folder: Path, num_block: int) -> tuple[Path, Path]:
  """The same random x4 weights as an esrgan_jax model file and as a BasicSR-named .npz for torch."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp

  from esrgan_jax import runtime
  from esrgan_jax.models.rrdbnet import RRDBNet
  from esrgan_jax.weights import model_io
  from esrgan_jax.weights.generator_state_dicts import generator_to_torch

  module = RRDBNet(num_block=num_block)
  params = jax.jit(module.init, compiler_options=runtime.ONE_SHOT_COMPILER_OPTIONS)(
    jax.random.key(0), jnp.zeros((1, 16, 16, 3))
  )['params']
  model_file, state_file = folder / 'generator.msgpack', folder / 'generator_torch.npz'
  model_io.save_generator(model_file, module, params)
  np.savez(state_file, **generator_to_torch(module, params))
  return model_file, state_file


def test_image(size: int) -> np.ndarray:
  """A smooth random image with some texture, HWC float32 in [0, 1]."""
  rng = np.random.default_rng(0)
  coarse = rng.random((size // 32 + 2, size // 32 + 2, 3), np.float32)
  smooth = np.kron(coarse, np.ones((32, 32, 1), np.float32))[:size, :size]
  return np.clip(0.8 * smooth + 0.2 * rng.random((size, size, 3), np.float32), 0, 1)


def border_deviation(tiled: np.ndarray, untiled: np.ndarray, tile_out: int, band: int) -> dict[str, float]:
  """Deviation of a tiled output from the untiled one, both clipped to [0, 1]."""
  diff = np.abs(np.clip(tiled, 0, 1) - np.clip(untiled, 0, 1)).max(-1)
  near = lambda n: np.abs((np.arange(n) + tile_out // 2) % tile_out - tile_out // 2) < band  # near k * tile_out
  in_band = near(diff.shape[0])[:, None] | near(diff.shape[1])[None, :]
  in_band[:band], in_band[-band:], in_band[:, :band], in_band[:, -band:] = False, False, False, False  # image edges
  return {
    'max_abs': float(diff.max()),
    'mean_abs_near_borders': float(diff[in_band].mean()),
    'share_off_by_1_level': float((diff >= 1 / 255).mean()),
  }


def measure_memory(args) -> dict[str, float]:
  """In a fresh process (--memory-of NAME): loads one tiler and upscales once while a thread samples RSS."""
  folder = Path(args.weights_dir)
  if args.memory_of == OURS:
    from esrgan_jax import runtime  # pylint: disable=g-import-not-at-top

    runtime.use_fast_cpu_flags()
    runtime.use_cpu_device_per_core()
    upscale = ours_tiler(folder / 'generator.msgpack', args)
  else:
    upscale = torch_tiler(folder / 'generator_torch.npz', args)
  image = test_image(args.size)
  process, peak, done = psutil.Process(), [0], threading.Event()
  before = process.memory_info().rss

  def sample():
    while not done.is_set():
      peak[0] = max(peak[0], process.memory_info().rss)
      time.sleep(0.005)

  sampler = threading.Thread(target=sample)
  sampler.start()
  upscale(image)
  done.set()
  sampler.join()
  return {
    'peak_rss_mb': _peak_rss_bytes() / 2**20,
    'rss_rise_mb': (max(peak[0], process.memory_info().rss) - before) / 2**20,
  }


def _peak_rss_bytes() -> int:
  """This process's peak RSS. Linux's VmHWM starts afresh at exec, unlike ru_maxrss (which would include the
  parent's peak before the fork)."""
  status = Path('/proc/self/status')
  if status.is_file():
    for line in status.read_text().splitlines():
      if line.startswith('VmHWM:'):
        return int(line.split()[1]) * 1024
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--quick', action='store_true', help='256x256 image, tile 128 (unless given)')
  parser.add_argument('--size', type=int, default=None, help='image side in pixels (default 2048, --quick 256)')
  parser.add_argument('--num_block', type=int, default=23)
  parser.add_argument('--tile', type=int, default=None, help='core tile size (default 512, --quick 128)')
  parser.add_argument('--tile_pad', type=int, default=16)
  parser.add_argument(
    '--batch_tiles',
    type=int,
    default=None,
    help='tiles per call of ours (default: as the upscale CLI with --tile N, apply.tiles_per_call)',
  )
  parser.add_argument('--rounds', type=int, default=2)
  parser.add_argument('--json', default=None, help='write the result rows here')
  parser.add_argument('--memory-of', default=None, help=argparse.SUPPRESS)
  parser.add_argument('--weights-dir', default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  args.size = args.size or (256 if args.quick else 2048)
  args.tile = args.tile or (128 if args.quick else 512)
  if args.memory_of:
    print(json.dumps(measure_memory(args)))
    return
  from esrgan_jax import runtime  # pylint: disable=g-import-not-at-top

  runtime.use_fast_cpu_flags()
  runtime.use_cpu_device_per_core()
  import jax  # pylint: disable=g-import-not-at-top

  from esrgan_jax.inference import apply  # pylint: disable=g-import-not-at-top
  from esrgan_jax.models.rrdbnet import RRDBNet  # pylint: disable=g-import-not-at-top

  case = f'{args.size}x{args.size} nb{args.num_block} tile{args.tile}'
  args.batch_tiles = args.batch_tiles or apply.tiles_per_call(RRDBNet(num_block=args.num_block))
  print(
    f'XLA_FLAGS={os.environ.get("XLA_FLAGS")!r}; {case}, tile_pad {args.tile_pad}, ours batch_tiles '
    f'{args.batch_tiles} over {jax.local_device_count()} devices',
    flush=True,
  )
  image = test_image(args.size)
  with tempfile.TemporaryDirectory() as folder:
    model_file, state_file = write_weights(Path(folder), args.num_block)
    tilers = {OURS: ours_tiler(model_file, args), TORCH_TILER: torch_tiler(state_file, args)}
    load = timing.OtherLoad()
    with load:
      outputs = {name: fn(image) for name, fn in tilers.items()}  # warm-up (compiles ours)
      times = timing.interleave({name: lambda fn=fn: fn(image) for name, fn in tilers.items()}, args.rounds, warmup=0)
    memory = {
      name: json.loads(
        subprocess.run(
          [sys.executable, __file__, *sys.argv[1:], '--memory-of', name, '--weights-dir', folder]
          + ['--batch_tiles', str(args.batch_tiles)],  # last: the value main resolved
          check=True,
          capture_output=True,
          text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
      )
      for name in tilers
    }
    untiled = None
    if args.size <= 512:
      untiled = ours_tiler(model_file, argparse.Namespace(**{**vars(args), 'tile': 0}))(image)
  from esrgan_jax.inference import tiling  # pylint: disable=g-import-not-at-top

  rows = []
  for name, t in times.items():
    deviation = (
      {} if untiled is None else border_deviation(outputs[name], untiled, args.tile * SCALE, args.tile_pad * SCALE)
    )
    covered = (
      tiling.covered_ratio(args.size, args.size, args.tile, args.tile_pad)
      if name == OURS
      else realesrgan_style_covered(args.size, args.size, args.tile, args.tile_pad)
    )
    rows.append(
      timing.row(
        'tiled_upscale',
        case,
        name,
        t,
        baselines={TORCH_TILER: times[TORCH_TILER]},
        other_load=load.cores,
        px_computed_per_px=round(covered, 3),
        **memory[name],
        **deviation,
      )
    )
  timing.print_rows(rows)
  for r in rows:
    print(f'  {r["impl"]}: peak RSS {r["peak_rss_mb"]:.0f} MB (+{r["rss_rise_mb"]:.0f} MB during the call)', end='')
    print(
      f'; vs untiled: max |diff| {r["max_abs"]:.2e}, mean near tile borders {r["mean_abs_near_borders"]:.2e}, '
      f'{100 * r["share_off_by_1_level"]:.3f}% of pixels off by >= 1/255'
      if 'max_abs' in r
      else ''
    )
  timing.write_rows(args.json, rows)


if __name__ == '__main__':
  main()
