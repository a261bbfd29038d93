"""Network interpolation (ESRGAN paper §3.4): θ = (1 − α)·θ_PSNR + α·θ_GAN, parameter by parameter.

α = 0 gives the PSNR-oriented generator, α = 1 the GAN one; values in between trade PSNR for perceptual detail
without retraining. α outside [0, 1] extrapolates (allowed, with a warning). Usage:

  python -m esrgan_jax.interpolate --psnr psnr.msgpack --gan gan.msgpack --alpha 0.8 --out interp.msgpack
  python -m esrgan_jax.interpolate --psnr psnr.msgpack --gan gan.msgpack --alpha 0 --alpha 0.2 ... --out DIR

An --out ending in .msgpack is the file for a single α; otherwise it is a folder that receives ESRGAN's names,
`interp_08.msgpack` for α = 0.8 (α off the 0.1 grid keeps its digits: `interp_0.85.msgpack`).
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from esrgan_jax import cli_help, runtime


def _output_paths(out: Path, alphas: Sequence[float]) -> list[Path]:
  """One output file per alpha: `out` itself for a single alpha and a .msgpack `out`, else out/interp_XX."""
  from esrgan_jax.inference.interpolation import sweep_file_name  # pylint: disable=g-import-not-at-top

  if out.suffix == '.msgpack':
    if len(alphas) > 1:
      raise ValueError(f'--out {out} is a file, but {len(alphas)} alphas need a folder; drop the .msgpack suffix.')
    return [out]
  paths = [out / sweep_file_name(alpha) for alpha in alphas]
  if len(set(paths)) < len(paths):
    raise ValueError(f'--alpha values {list(alphas)} repeat an output name ({", ".join(p.name for p in paths)}).')
  return paths


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
    prog='python -m esrgan_jax.interpolate', description=__doc__.split('\n')[0], formatter_class=cli_help.HelpFormatter
  )
  parser.add_argument('--psnr', required=True, type=Path, help='PSNR-oriented generator file (alpha = 0)')
  parser.add_argument('--gan', required=True, type=Path, help='GAN generator file of the same config (alpha = 1)')
  parser.add_argument(
    '--alpha',
    required=True,
    type=float,
    action='append',
    help='blend weight of the GAN model; repeat for a sweep (ESRGAN: 0, 0.2, ..., 1; demo 0.8)',
  )
  parser.add_argument(
    '--out', required=True, type=Path, help='output .msgpack file (one alpha) or folder (interp_XX.msgpack per alpha)'
  )
  return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the CLI; returns the exit code (0 written, 2 unusable models or arguments)."""
  args = _parse_args(argv)
  from esrgan_jax.inference.interpolation import check_same_generator, interpolate  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights.generator_files import load_generator_file  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights.model_io import save_generator  # pylint: disable=g-import-not-at-top

  try:
    out_paths = _output_paths(args.out, args.alpha)
    module_psnr, params_psnr = load_generator_file(args.psnr)
    module_gan, params_gan = load_generator_file(args.gan)
    check_same_generator(module_psnr, module_gan, '--psnr and --gan')
  except (FileNotFoundError, ValueError) as e:
    print(f'Cannot interpolate: {e}', file=sys.stderr)
    return 2
  inputs = {args.psnr.resolve(), args.gan.resolve()}
  if any(path.resolve() in inputs for path in out_paths):
    print(f'Cannot interpolate: --out {args.out} would overwrite an input model.', file=sys.stderr)
    return 2
  for alpha, path in zip(args.alpha, out_paths):
    save_generator(path, module_psnr, interpolate(params_psnr, params_gan, alpha))
    print(f'alpha {alpha:g}: wrote {path}')
  return 0


if __name__ == '__main__':
  runtime.use_fast_cpu_flags()
  sys.exit(main())
