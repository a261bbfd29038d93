"""Network interpolation (ESRGAN paper §3.4): θ = (1 − α)·θ_PSNR + α·θ_GAN, parameter by parameter.

α = 0 gives the PSNR-oriented generator, α = 1 the GAN one; values in between trade PSNR for perceptual detail
without retraining. α outside [0, 1] extrapolates (allowed, with a warning). Usage:

  python -m esrgan_jax.interpolate --psnr psnr.msgpack --gan gan.msgpack --alpha 0.8 --out interp.msgpack
  python -m esrgan_jax.interpolate --psnr psnr.msgpack --gan gan.msgpack --alpha 0 --alpha 0.2 ... --out DIR

An --out ending in .msgpack is the file for a single α; otherwise it is a folder that receives ESRGAN's names,
`interp_08.msgpack` for α = 0.8 (α off the 0.1 grid keeps its digits: `interp_0.85.msgpack`).
"""
import argparse
import dataclasses
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax

from esrgan_jax import xla_flags
from esrgan_jax.model_io import load_generator, save_generator

_SAME_ARCH_HINT = ('The two models must share one architecture: train or convert both with the same generator config '
                   '(arch, scale, num_feat, num_block, num_grow_ch).')


def _key(path: jax.tree_util.KeyPath) -> str:
  return jax.tree_util.keystr(path, simple=True, separator='/')


def _check_compatible(params_psnr: Any, params_gan: Any) -> None:
  """Raises ValueError naming the first key path where the two trees differ in structure, shape or dtype."""
  leaves_psnr = jax.tree_util.tree_flatten_with_path(params_psnr)[0]
  leaves_gan = jax.tree_util.tree_flatten_with_path(params_gan)[0]
  if jax.tree.structure(params_psnr) != jax.tree.structure(params_gan):
    keys_psnr = dict.fromkeys(_key(p) for p, _ in leaves_psnr)  # ordered sets
    keys_gan = dict.fromkeys(_key(p) for p, _ in leaves_gan)
    only_psnr = [k for k in keys_psnr if k not in keys_gan]
    only_gan = [k for k in keys_gan if k not in keys_psnr]
    if only_psnr:
      where = f'{only_psnr[0]!r} is in the PSNR params but not in the GAN params'
    elif only_gan:
      where = f'{only_gan[0]!r} is in the GAN params but not in the PSNR params'
    else:
      where = f'same keys, different containers: {jax.tree.structure(params_psnr)} vs {jax.tree.structure(params_gan)}'
    raise ValueError(f'Cannot interpolate: the parameter trees differ ({where}). {_SAME_ARCH_HINT}')
  for (path, psnr), (_, gan) in zip(leaves_psnr, leaves_gan):
    if (psnr.shape, psnr.dtype) != (gan.shape, gan.dtype):
      raise ValueError(f'Cannot interpolate: {_key(path)!r} is {psnr.dtype}{list(psnr.shape)} in the PSNR params but '
                       f'{gan.dtype}{list(gan.shape)} in the GAN params. {_SAME_ARCH_HINT}')


def interpolate(params_psnr: Any, params_gan: Any, alpha: float) -> Any:
  """(1 − alpha)·params_psnr + alpha·params_gan for every leaf; the result has the inputs' tree, shapes and dtypes.

  Leaves are numpy or JAX arrays (numpy in, numpy out). Raises ValueError when the trees differ in structure or
  a leaf in shape or dtype; warns when alpha lies outside [0, 1] (extrapolation).
  """
  _check_compatible(params_psnr, params_gan)
  if not 0.0 <= alpha <= 1.0:
    warnings.warn(f'alpha={alpha} is outside [0, 1]: extrapolating beyond the '
                  f'{"PSNR" if alpha < 0 else "GAN"} model.', stacklevel=2)
  return jax.tree.map(lambda psnr, gan: (1.0 - alpha) * psnr + alpha * gan, params_psnr, params_gan)


def sweep_file_name(alpha: float) -> str:
  """ESRGAN's `interp_{10α:02d}` name, e.g. 'interp_08.msgpack' for 0.8; off the 0.1 grid 'interp_0.85.msgpack'."""
  tenths = round(alpha * 10)
  if math.isclose(alpha * 10, tenths, abs_tol=1e-9):
    return f'interp_{tenths:02d}.msgpack'
  return f'interp_{alpha:g}.msgpack'


def _config_difference(a: nn.Module, b: nn.Module) -> dict[str, tuple[Any, Any]]:
  """{field: (value in a, value in b)} for every constructor field where the two generators differ, or the arch."""
  if type(a) is not type(b):
    return {'arch': (type(a).__name__, type(b).__name__)}
  fields = (f.name for f in dataclasses.fields(a))
  return {f: (getattr(a, f), getattr(b, f)) for f in fields if getattr(a, f) != getattr(b, f)}


def _output_paths(out: Path, alphas: Sequence[float]) -> list[Path]:
  """One output file per alpha: `out` itself for a single alpha and a .msgpack `out`, else out/interp_XX."""
  if out.suffix == '.msgpack':
    if len(alphas) > 1:
      raise ValueError(f'--out {out} is a file, but {len(alphas)} alphas need a folder; drop the .msgpack suffix.')
    return [out]
  paths = [out / sweep_file_name(alpha) for alpha in alphas]
  if len(set(paths)) < len(paths):
    raise ValueError(f'--alpha values {list(alphas)} repeat an output name ({", ".join(p.name for p in paths)}).')
  return paths


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(prog='python -m esrgan_jax.interpolate', description=__doc__.split('\n')[0])
  parser.add_argument('--psnr', required=True, type=Path, help='PSNR-oriented generator file (alpha = 0)')
  parser.add_argument('--gan', required=True, type=Path, help='GAN generator file of the same config (alpha = 1)')
  parser.add_argument('--alpha', required=True, type=float, action='append',
                      help='blend weight of the GAN model; repeat for a sweep (ESRGAN: 0, 0.2, ..., 1; demo 0.8)')
  parser.add_argument('--out', required=True, type=Path,
                      help='output .msgpack file (one alpha) or folder (interp_XX.msgpack per alpha)')
  return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the CLI; returns the exit code (0 written, 2 unusable models or arguments)."""
  args = _parse_args(argv)
  try:
    out_paths = _output_paths(args.out, args.alpha)
    module_psnr, params_psnr = load_generator(args.psnr)
    module_gan, params_gan = load_generator(args.gan)
  except (FileNotFoundError, ValueError) as e:
    print(f'Cannot interpolate: {e}', file=sys.stderr)
    return 2
  difference = _config_difference(module_psnr, module_gan)
  if difference:
    fields = ', '.join(f'{name} {psnr!r} vs {gan!r}' for name, (psnr, gan) in difference.items())
    print(f'Cannot interpolate: --psnr and --gan describe different generators ({fields}). {_SAME_ARCH_HINT}',
          file=sys.stderr)
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
  xla_flags.use_fast_cpu_flags()
  sys.exit(main())
