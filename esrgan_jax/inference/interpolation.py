"""Network interpolation (ESRGAN paper §3.4): θ = (1 − α)·θ_PSNR + α·θ_GAN, parameter by parameter, as a pytree map.

α = 0 gives the PSNR-oriented generator, α = 1 the GAN one; values in between trade PSNR for perceptual detail
without retraining. α outside [0, 1] extrapolates (allowed, with a warning). Real-ESRGAN's denoise strength is the
same blend between `realesr-general-wdn-x4v3` and `realesr-general-x4v3` (`load_denoise_blend`).
"""

import dataclasses
import math
import os
import warnings
from typing import Any

import flax.linen as nn
import jax

from esrgan_jax.weights.generator_files import load_generator_file

SAME_ARCH_HINT = (
  'The two models must share one architecture: train or convert both with the same generator config '
  '(arch, scale, num_feat, num_block, num_grow_ch).'
)


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
    raise ValueError(f'Cannot interpolate: the parameter trees differ ({where}). {SAME_ARCH_HINT}')
  for (path, psnr), (_, gan) in zip(leaves_psnr, leaves_gan):
    if (psnr.shape, psnr.dtype) != (gan.shape, gan.dtype):
      raise ValueError(
        f'Cannot interpolate: {_key(path)!r} is {psnr.dtype}{list(psnr.shape)} in the PSNR params but '
        f'{gan.dtype}{list(gan.shape)} in the GAN params. {SAME_ARCH_HINT}'
      )


def interpolate(params_psnr: Any, params_gan: Any, alpha: float) -> Any:
  """(1 − alpha)·params_psnr + alpha·params_gan for every leaf; the result has the inputs' tree, shapes and dtypes.

  Leaves are numpy or JAX arrays (numpy in, numpy out). Raises ValueError when the trees differ in structure or
  a leaf in shape or dtype; warns when alpha lies outside [0, 1] (extrapolation).
  """
  _check_compatible(params_psnr, params_gan)
  if not 0.0 <= alpha <= 1.0:
    warnings.warn(
      f'alpha={alpha} is outside [0, 1]: extrapolating beyond the {"PSNR" if alpha < 0 else "GAN"} model.', stacklevel=2
    )
  return jax.tree.map(lambda psnr, gan: (1.0 - alpha) * psnr + alpha * gan, params_psnr, params_gan)


def sweep_file_name(alpha: float) -> str:
  """ESRGAN's `interp_{10α:02d}` name, e.g. 'interp_08.msgpack' for 0.8; off the 0.1 grid 'interp_0.85.msgpack'."""
  tenths = round(alpha * 10)
  if math.isclose(alpha * 10, tenths, abs_tol=1e-9):
    return f'interp_{tenths:02d}.msgpack'
  return f'interp_{alpha:g}.msgpack'


def config_difference(a: nn.Module, b: nn.Module) -> dict[str, tuple[Any, Any]]:
  """{field: (value in a, value in b)} for every constructor field where the two generators differ, or the arch."""
  if type(a) is not type(b):
    return {'arch': (type(a).__name__, type(b).__name__)}
  fields = (f.name for f in dataclasses.fields(a))
  return {f: (getattr(a, f), getattr(b, f)) for f in fields if getattr(a, f) != getattr(b, f)}


def check_same_generator(a: nn.Module, b: nn.Module, names: str) -> None:
  """Raises ValueError '{names} describe different generators (field a vs b, ...)' unless `config_difference` is
  empty; `names` says which two, e.g. '--psnr and --gan'."""
  difference = config_difference(a, b)
  if difference:
    fields = ', '.join(f'{name} {x!r} vs {y!r}' for name, (x, y) in difference.items())
    raise ValueError(f'{names} describe different generators ({fields}). {SAME_ARCH_HINT}')


def load_denoise_blend(
  model_path: str | os.PathLike, wdn_path: str | os.PathLike, strength: float, dtype: Any = None
) -> tuple[nn.Module, Any]:
  """Real-ESRGAN's `--denoise_strength` (its `dni`): strength·θ_model + (1 − strength)·θ_wdn.

  `model_path` is `realesr-general-x4v3` (strength 1: its full denoising), `wdn_path` its weak-denoise twin
  `realesr-general-wdn-x4v3` (strength 0: keeps the noise); either file format `load_generator_file` reads. Returns
  (generator, blended params); ValueError when the two files hold different generators.
  """
  module, params = load_generator_file(model_path, dtype)
  wdn_module, wdn_params = load_generator_file(wdn_path, dtype)
  check_same_generator(module, wdn_module, '--model and --wdn-model')
  return module, interpolate(wdn_params, params, strength)
