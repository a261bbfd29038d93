"""Paper-convention PSNR/SSIM on HR test sets: `python -m esrgan_jax.evaluate DIR... (--model PATH | --bicubic)`.

Per HR image (uint8; gray counts as RGB with equal channels, alpha is dropped): modcrop to `modcrop` (default the
scale), MATLAB bicubic downscale by 1/scale rounded to uint8 (the LR input), super-resolve, round the output to uint8,
then PSNR/SSIM on the BT.601 Y channel (RGB with `--rgb`) with `scale` border pixels cropped.
A DIR holding images is one set (Set5/Set14/BSD100/Urban100 layout); a DIR of such folders gives one set per folder.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import jax.numpy as jnp

from esrgan_jax import runtime
from esrgan_jax.inference.evaluation import (
  bicubic_sr_fn,
  evaluate_folder,
  find_sets,
  format_table,
  generator_sr_fn,
  write_results,
)
from esrgan_jax.weights.generator_files import load_generator_file


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
    prog='python -m esrgan_jax.evaluate',
    description=__doc__.split('\n')[0],
    formatter_class=argparse.ArgumentDefaultsHelpFormatter,
  )
  parser.add_argument('hr_dirs', nargs='+', type=Path, help='HR set folders, or folders of set folders')
  method = parser.add_mutually_exclusive_group(required=True)
  method.add_argument('--model', type=Path, help='generator: esrgan_jax model file or PyTorch .pth')
  method.add_argument('--bicubic', action='store_true', help='evaluate MATLAB bicubic upscaling')
  parser.add_argument('--scale', type=int, default=None, help='bicubic scale (default 4); a model has its own')
  parser.add_argument('--modcrop', type=int, default=None, help='crop HR to a multiple of this (default: scale)')
  parser.add_argument('--crop-border', type=int, default=None, help='border pixels ignored (default: scale)')
  parser.add_argument('--rgb', action='store_true', help='RGB metrics instead of the Y channel')
  parser.add_argument('--out', type=Path, default=None, help='folder for metrics.csv and metrics.json')
  parser.add_argument('--tile', type=int, default=0, help='tiled inference (see upscale); 0 = whole image')
  parser.add_argument('--tile-pad', type=int, default=16)
  parser.add_argument('--bf16', action='store_true', help='bfloat16 compute for the model')
  parser.add_argument('--no-compile-cache', dest='compile_cache', action='store_false', help='see upscale --help')
  args = parser.parse_args(argv)
  if args.modcrop is not None and args.modcrop < 1:
    parser.error(f'--modcrop must be >= 1, got {args.modcrop}.')
  return args


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the CLI: a table per set on stdout, files in --out; returns the exit code."""
  args = _parse_args(argv)
  if args.compile_cache:
    runtime.use_compile_cache()
  if args.bicubic:
    scale = args.scale or 4
    sr_fn, method = bicubic_sr_fn(scale), 'bicubic'
  else:
    try:
      module, params = load_generator_file(args.model, dtype=jnp.bfloat16 if args.bf16 else None)
    except (FileNotFoundError, ValueError) as e:
      print(f'Cannot load --model: {e}', file=sys.stderr)
      return 2
    module = runtime.for_platform(module)
    sr_fn, scale = generator_sr_fn(module, params, tile=args.tile, tile_pad=args.tile_pad), module.scale
    method = str(args.model)
    if args.scale not in (None, scale):
      print(f'--scale {args.scale} contradicts the model, which upscales x{scale}.', file=sys.stderr)
      return 2
  modcrop_to = args.modcrop or scale
  if modcrop_to % scale:
    print(f'--modcrop {modcrop_to} must be a multiple of the scale {scale}.', file=sys.stderr)
    return 2
  settings = {
    'method': method,
    'scale': scale,
    'channel': 'RGB' if args.rgb else 'Y',
    'modcrop': modcrop_to,
    'crop_border': scale if args.crop_border is None else args.crop_border,
  }
  results = []
  for hr_dir in find_sets(args.hr_dirs):
    result = evaluate_folder(
      hr_dir,
      sr_fn,
      scale,
      modcrop_to=modcrop_to,
      test_y_channel=not args.rgb,
      crop_border=args.crop_border,
      progress=True,
    )
    results.append(result)
    print(f'\n{result["set"]}  ({", ".join(f"{k} {v}" for k, v in settings.items())})\n{format_table(result)}')
  if args.out is not None:
    write_results(args.out, settings, results)
    print(f'\nwrote {args.out / "metrics.csv"} and {args.out / "metrics.json"}')
  return 0


if __name__ == '__main__':
  runtime.use_fast_cpu_flags()
  sys.exit(main())
