"""How far tiled upscaling is from untiled output when the network's receptive field behaves like a trained one's.

    python benchmarks/tile_seams.py [--size 128] [--num_block 23] [--tile 64] [--pads 4 8 16 24]
                                    [--init_scales 0.1 0.5 1.0] [--json FILE]

Randomly initialised RRDBNets (RDB convs at Kaiming x 0.1, BasicSR's init) barely let one pixel influence its
neighbours, so tiles agree with the untiled output to ~1e-6 whatever the overlap. Trained nets do not (the issue
measured RealESRGAN_x4plus at tile 64: up to 43 of 255 levels with our blending, 52 with Real-ESRGAN's tiles). Here
the RDB convs are drawn at a larger `init_scale`, so features travel through the residual chain as in a trained
net, and conv_last (linear) is rescaled so the untiled output has a photo's mean and spread; the row for
Real-ESRGAN's tiler at its default pad 10 says which scale resembles the trained net's seams.

For a demo photo (a `size` x `size` crop of skimage's chelsea), each tiler runs the same jitted network: ours
(`tiling.upscale_image`, blended windows) and a Real-ESRGAN-style tiler in numpy (core tiles cut from padded crops,
no blending). Reported in 8-bit levels against the untiled output, both clipped to [0, 1]: max and mean |difference|,
and a seam score -- the largest mean |step| of the difference image across one row or column boundary, i.e. how
visible the strongest straight line is (a hard tile cut gives a peak; a cross-fade spreads it) -- plus the input
pixels computed per image pixel (overlap cost) and seconds.
"""

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
from tiled_upscale import realesrgan_style_covered, realesrgan_style_tiles

from esrgan_jax import runtime
from esrgan_jax.data.demo_data import load_demo_image
from esrgan_jax.inference import tiling
from esrgan_jax.inference.apply import make_apply_fn
from esrgan_jax.models.rrdbnet import RRDBNet

SCALE = 4


def init_params(module: RRDBNet, init_scale: float) -> dict:
  """Kaiming-normal RDB convs times `init_scale`, the other convs at std 1 / sqrt(3 fan_in) (PyTorch's default),
  zero biases; drawn in numpy (jitting the 23-block init compiles for minutes on a busy machine)."""
  rng = np.random.default_rng(0)
  shapes = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, 16, 16, 3)))['params']

  def draw(path, leaf):
    if path[-1].key == 'bias':
      return np.zeros(leaf.shape, np.float32)
    fan_in = np.prod(leaf.shape[:-1])
    rdb = any(getattr(k, 'key', '').startswith('rdb') for k in path)
    std = np.sqrt(2 / fan_in) * init_scale if rdb else 1 / np.sqrt(3 * fan_in)
    return rng.normal(0, std, leaf.shape).astype(np.float32)

  return jax.tree.map_with_path(draw, shapes)


def deviation(tiled: np.ndarray, untiled: np.ndarray) -> dict[str, float]:
  """Max and mean |tiled - untiled| and the seam score, in 8-bit levels, of outputs clipped to [0, 1]."""
  diff = (np.clip(tiled, 0, 1) - np.clip(untiled, 0, 1)) * 255
  steps = [np.abs(np.diff(diff, axis=axis)).mean(axis=(1 - axis, 2)).max() for axis in (0, 1)]
  return {'max_levels': float(np.abs(diff).max()), 'mean_levels': float(np.abs(diff).mean()), 'seam': float(max(steps))}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--size', type=int, default=128)
  parser.add_argument('--num_block', type=int, default=23)
  parser.add_argument('--tile', type=int, default=64)
  parser.add_argument('--pads', type=int, nargs='+', default=[4, 8, 16, 24])
  parser.add_argument('--init_scales', type=float, nargs='+', default=[0.1, 0.5, 1.0])
  parser.add_argument('--json', default=None)
  args = parser.parse_args()
  runtime.use_fast_cpu_flags()
  photo = load_demo_image('chelsea')
  image = (photo[: args.size, 100 : 100 + args.size] / 255.0).astype(np.float32)
  rows = []
  for init_scale in args.init_scales:
    module = runtime.for_platform(RRDBNet(num_block=args.num_block))
    params = init_params(module, init_scale)
    apply_fn = make_apply_fn(module, params)
    raw = tiling.upscale_image(apply_fn, image, scale=SCALE)
    # conv_last is linear: rescale it so the untiled output has a photo's mean and spread (0.45, 0.25).
    gain = 0.25 / raw.std()
    params['conv_last'] = {'kernel': params['conv_last']['kernel'] * gain, 'bias': 0.45 - raw.mean((0, 1)) * gain}
    apply_fn = make_apply_fn(module, params)
    untiled = tiling.upscale_image(apply_fn, image, scale=SCALE)
    print(f'init_scale {init_scale}: untiled output mean {untiled.mean():.3f}, std {untiled.std():.3f}', flush=True)
    cases = [('Real-ESRGAN-style', 10)] + [('ours', pad) for pad in args.pads]
    for tiler, pad in cases:
      start = time.perf_counter()
      if tiler == 'ours':
        tiled = tiling.upscale_image(apply_fn, image, scale=SCALE, tile=args.tile, tile_pad=pad)
        covered = tiling.covered_ratio(args.size, args.size, args.tile, pad)
      else:
        tiled = realesrgan_style_tiles(apply_fn, image, SCALE, args.tile, pad)
        covered = realesrgan_style_covered(args.size, args.size, args.tile, pad)
      row = dict(init_scale=init_scale, tiler=tiler, tile=args.tile, tile_pad=pad, covered=covered)
      row.update(deviation(tiled, untiled), seconds_incl_compile=time.perf_counter() - start)
      rows.append(row)
      print(json.dumps(row), flush=True)
  print(f'\n{args.size}x{args.size} chelsea crop, RRDBNet x4 {args.num_block} blocks, tile {args.tile}; levels of 255')
  print('| RDB init_scale | tiler | tile_pad | px computed / px | max dev | mean dev | seam score |')
  print('|---|---|---|---|---|---|---|')
  for r in rows:
    print(
      f'| {r["init_scale"]} | {r["tiler"]} | {r["tile_pad"]} | {r["covered"]:.2f} | {r["max_levels"]:.2f} | '
      f'{r["mean_levels"]:.3f} | {r["seam"]:.3f} |'
    )
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(rows, f, indent=1)


if __name__ == '__main__':
  main()
