"""Paper-convention PSNR/SSIM/NIQE on HR test sets: `python -m esrgan_jax.evaluate DIR... (--model PATH | --bicubic)`.

Per HR image (uint8; gray counts as RGB with equal channels, alpha is dropped): modcrop to `modcrop` (default the
scale), MATLAB bicubic downscale by 1/scale rounded to uint8 (the LR input), super-resolve, round the output to uint8,
then PSNR/SSIM on the BT.601 Y channel (RGB with `--rgb`) and NIQE (always on Y) with `scale` border pixels cropped;
`--metrics` selects; `--lpips FILE` adds LPIPS (RGB, same crop) with the weights of `python -m esrgan_jax.convert
lpips`, and `--metrics ...,dists` (or `--dists FILE`) DISTS with those of `convert dists`. With `--no-reference`
the images are inputs without HR counterparts (real-world LR images): the model's or bicubic's output is scored with
NIQE alone; with neither method the images are scored as they are.
A DIR holding images is one set (Set5/Set14/BSD100/Urban100 layout); a DIR of such folders gives one set per folder.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from esrgan_jax import cli_help, runtime
from esrgan_jax.inference import quality  # numpy and scipy; JAX loads in main(), after the arguments are checked


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
    prog='python -m esrgan_jax.evaluate', description=__doc__.split('\n')[0], formatter_class=cli_help.HelpFormatter
  )
  parser.add_argument('hr_dirs', nargs='+', type=Path, help='HR set folders, or folders of set folders')
  method = parser.add_mutually_exclusive_group()
  method.add_argument('--model', type=Path, help='generator: esrgan_jax model file, PyTorch .pth or .safetensors')
  method.add_argument('--bicubic', action='store_true', help='evaluate MATLAB bicubic upscaling')
  parser.add_argument('--scale', type=int, default=None, help='bicubic scale (default 4); a model has its own')
  parser.add_argument('--modcrop', type=int, default=None, help='crop HR to a multiple of this (default: scale)')
  parser.add_argument('--crop-border', type=int, default=None, help='border pixels ignored (default: scale)')
  parser.add_argument('--rgb', action='store_true', help='RGB PSNR/SSIM instead of the Y channel')
  parser.add_argument(
    '--metrics', default=','.join(quality.DEFAULT), help=f'comma-separated, among {", ".join(quality.METRICS)}'
  )
  parser.add_argument(
    '--lpips',
    default=None,
    help="adds LPIPS: a file from `python -m esrgan_jax.convert lpips`, or 'alex'/'vgg' for that file in the "
    'weights directory',
  )
  parser.add_argument(
    '--dists',
    default=None,
    help='adds DISTS: a file from `python -m esrgan_jax.convert dists` (default with --metrics ...,dists: '
    'dists.msgpack in the weights directory)',
  )
  parser.add_argument(
    '--no-reference',
    action='store_true',
    help='the images have no HR counterparts: score the upscaled images (or, without a method, the images) with NIQE',
  )
  parser.add_argument('--out', type=Path, default=None, help='folder for metrics.csv and metrics.json')
  parser.add_argument('--tile', type=int, default=0, help='tiled inference (see upscale); 0 = whole image')
  parser.add_argument('--tile-pad', type=int, default=16, help='context pixels on each tile side (see upscale)')
  parser.add_argument('--bf16', action='store_true', help='bfloat16 compute for the model')
  cli_help.add_compile_cache_flag(parser)
  args = parser.parse_args(argv)
  if not (args.model or args.bicubic or args.no_reference):
    parser.error('one of --model or --bicubic is required (or --no-reference to score the images as they are).')
  available = dict(quality.METRICS)
  if args.lpips is not None:
    from esrgan_jax.inference.lpips_metric import load_lpips, lpips_metric  # pylint: disable=g-import-not-at-top

    try:
      available['lpips'] = lpips_metric(load_lpips(args.lpips))
    except (FileNotFoundError, ValueError) as e:
      parser.error(f'--lpips: {e}')
    if 'lpips' not in args.metrics.split(','):
      args.metrics += ',lpips'
  if args.dists is not None or 'dists' in args.metrics.split(','):
    from esrgan_jax.inference.dists_metric import dists_metric, load_dists  # pylint: disable=g-import-not-at-top

    try:
      available['dists'] = dists_metric(load_dists(args.dists))
    except (FileNotFoundError, ValueError) as e:
      parser.error(f'--dists: {e}')
    if 'dists' not in args.metrics.split(','):
      args.metrics += ',dists'
  try:
    args.metrics = quality.select(args.metrics, available)
  except ValueError as e:
    needs_file = 'lpips' in args.metrics.split(',') and args.lpips is None
    parser.error(f'--metrics: {e}' + (' lpips needs its weights: --lpips FILE.' if needs_file else ''))
  if args.no_reference:
    dropped = [m.name for m in args.metrics if m.needs_reference]
    args.metrics = quality.no_reference(args.metrics)
    if not args.metrics:
      parser.error(f'--no-reference scores without HR images, which {", ".join(dropped)} need; add niqe to --metrics.')
  if args.modcrop is not None and args.modcrop < 1:
    parser.error(f'--modcrop must be >= 1, got {args.modcrop}.')
  return args


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the CLI: a table per set on stdout, files in --out; returns the exit code (0 every image scored, 1 some
  unreadable images skipped, 2 nothing to evaluate or a bad option)."""
  args = _parse_args(argv)
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from esrgan_jax.inference import evaluation  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights.generator_files import load_generator_file  # pylint: disable=g-import-not-at-top

  try:
    hr_dirs = evaluation.find_sets(args.hr_dirs)
  except FileNotFoundError as e:
    print(f'Cannot evaluate: {e}', file=sys.stderr)
    return 2
  if args.compile_cache:
    runtime.use_compile_cache()
  if args.bicubic:
    scale = args.scale or 4
    sr_fn, method = evaluation.bicubic_sr_fn(scale), 'bicubic'
  elif args.model is None:  # --no-reference: the images as they are
    scale, sr_fn, method = args.scale or 1, None, 'none'
  else:
    try:
      module, params = load_generator_file(args.model, dtype=jnp.bfloat16 if args.bf16 else None)
    except (FileNotFoundError, ValueError) as e:
      print(f'Cannot load --model: {e}', file=sys.stderr)
      return 2
    module = runtime.for_platform(module)
    sr_fn, scale = evaluation.generator_sr_fn(module, params, tile=args.tile, tile_pad=args.tile_pad), module.scale
    method = str(args.model)
    if args.scale not in (None, scale):
      print(f'--scale {args.scale} contradicts the model, which upscales x{scale}.', file=sys.stderr)
      return 2
  modcrop_to = args.modcrop or scale
  if modcrop_to % scale:
    print(f'--modcrop {modcrop_to} must be a multiple of the scale {scale}.', file=sys.stderr)
    return 2
  crop_border = args.crop_border
  if crop_border is None:
    crop_border = 0 if sr_fn is None else scale
  settings = {
    'method': method,
    'scale': scale,
    'channel': 'RGB' if args.rgb else 'Y',
    'modcrop': modcrop_to,
    'crop_border': crop_border,
    'reference': not args.no_reference,
    'metrics': [m.name for m in args.metrics],
    **({'lpips': args.lpips} if args.lpips is not None else {}),
    **({'dists': args.dists} if args.dists is not None else {}),
  }
  results, skipped = [], []
  for hr_dir in hr_dirs:
    try:
      result = evaluation.evaluate_folder(
        hr_dir,
        sr_fn,
        scale,
        modcrop_to=modcrop_to,
        test_y_channel=not args.rgb,
        crop_border=crop_border,
        progress=True,
        metrics=args.metrics,
        reference=not args.no_reference,
      )
    except FileNotFoundError as e:
      print(f'Cannot evaluate: {e}', file=sys.stderr)
      return 2
    except ValueError as e:
      print(f'Cannot evaluate: {e} (choose metrics with --metrics)', file=sys.stderr)
      return 2
    results.append(result)
    skipped += result['skipped']
    shown = ', '.join(f'{k} {v}' for k, v in settings.items() if k != 'metrics')
    print(f'\n{result["set"]}  ({shown})\n{evaluation.format_table(result, args.metrics)}')
  if args.out is not None:
    evaluation.write_results(args.out, settings, results, args.metrics)
    print(f'\nwrote {args.out / "metrics.csv"} and {args.out / "metrics.json"}')
  if skipped:
    print(f'{len(skipped)} unreadable images skipped: {", ".join(skipped)}', file=sys.stderr)
  return 1 if skipped else 0


if __name__ == '__main__':
  runtime.use_fast_cpu_flags()
  sys.exit(main())
