"""PyTorch state dicts (numpy arrays from `esrgan_jax.weights.torch_io`) <-> flax variables, for any module.

A converter names the torch module of each flax module path; this module does the rest: the key of every variable
(`torch_keys`), the layout (conv kernels OIHW <-> HWIO, dense kernels [out, in] <-> [in, out]), the shape checks with
one error listing every missing, unknown and wrongly shaped key, and BasicSR's `{'params', 'params_ema'}` wrapper and
DataParallel's `module.` prefix (`unwrap`). The per-family converters (`rrdbnet_state_dict`, `srresnet_state_dict`,
`srvgg_state_dict`, `discriminator_state_dict`, `perceptual`, `unet_discriminator`, `lpips_weights`, `dists_weights`)
build on it.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from flax import traverse_util

from esrgan_jax.weights.official_files import WRAPPER_KEYS

FlatPath = tuple[str, ...]  # (collection, *module names, leaf name)
# Flax (collection, leaf name) -> torch parameter or buffer name.
TORCH_LEAF_NAMES = {
  ('params', 'kernel'): 'weight',
  ('params', 'scale'): 'weight',
  ('params', 'bias'): 'bias',
  ('params', 'negative_slope'): 'weight',  # PReLU
  ('batch_stats', 'mean'): 'running_mean',
  ('batch_stats', 'var'): 'running_var',
}


def _kernel_axes(ndim: int) -> tuple[int, ...]:
  """Axes that turn a torch weight into a flax kernel: OIHW -> HWIO (conv), [out, in] -> [in, out] (dense)."""
  return (*range(2, ndim), 1, 0)


def kernel_from_torch(weight: Any) -> np.ndarray:
  """A torch conv weight [O, I, kh, kw] (or dense [out, in]) -> the flax kernel [kh, kw, I, O] ([in, out]), float32."""
  weight = np.asarray(weight, np.float32)
  return np.ascontiguousarray(weight.transpose(_kernel_axes(weight.ndim)))


def kernel_to_torch(kernel: Any) -> np.ndarray:
  """A flax kernel [kh, kw, I, O] (or [in, out]) -> the torch weight [O, I, kh, kw] ([out, in]), float32."""
  kernel = np.asarray(kernel, np.float32)
  return np.ascontiguousarray(kernel.transpose(np.argsort(_kernel_axes(kernel.ndim))))


def _torch_shape(path: FlatPath, shape: tuple[int, ...]) -> tuple[int, ...]:
  """The torch shape of the flax variable at `path` of `shape`."""
  return tuple(shape[axis] for axis in np.argsort(_kernel_axes(len(shape)))) if path[-1] == 'kernel' else shape


def variable_shapes(module: Any, *input_shapes: tuple[int, ...]) -> dict[FlatPath, tuple[int, ...]]:
  """Flat path -> shape of every variable `module.init` creates for float32 inputs of `input_shapes`, without
  computing."""
  inputs = [jax.ShapeDtypeStruct(shape, np.float32) for shape in input_shapes]
  shapes = jax.eval_shape(module.init, jax.random.key(0), *inputs)
  return {path: leaf.shape for path, leaf in traverse_util.flatten_dict(shapes).items()}


def torch_keys(paths: Sequence[FlatPath], torch_module: Callable[[str], str]) -> dict[str, FlatPath]:
  """Torch state-dict key -> flax path, given the torch module name of each flax module path ('a/b')."""
  return {f'{torch_module("/".join(path[1:-1]))}.{TORCH_LEAF_NAMES[path[0], path[-1]]}': path for path in paths}


def same_torch_module(flax_module: str) -> str:
  """The torch module name of a flax module named as torch names it (BasicSR's discriminator, ESRGAN's MINCNet)."""
  return flax_module


def variables_from_torch(
  state: Mapping[str, Any],
  shapes: Mapping[FlatPath, tuple[int, ...]],
  keys: Mapping[str, FlatPath],
  ignore: Callable[[str], bool],
  target: str,
  hint: str = '',
) -> dict[str, Any]:
  """Fills `shapes` from `state` (float32, flax layout); one ValueError lists every missing, unknown or bad key.

  keys: torch key -> flax path (`torch_keys`); ignore: which other keys of `state` to pass over; target: what the
  state dict should fit, for the error; hint: a line the error ends with.
  """
  flat, missing, wrong_shapes = {}, [], []
  for key, path in keys.items():
    if key not in state:
      missing.append(key)
      continue
    value = state[key]
    expected = _torch_shape(path, shapes[path])
    if not hasattr(value, 'shape'):
      wrong_shapes.append(f'{key} is a {type(value).__name__}, expected a tensor of shape {expected}')
    elif tuple(value.shape) != expected:
      wrong_shapes.append(f'{key} has shape {tuple(value.shape)}, expected {expected}')
    else:
      flat[path] = kernel_from_torch(value) if path[-1] == 'kernel' else np.ascontiguousarray(value, np.float32)
  unknown = [key for key in state if key not in keys and not ignore(key)]
  problems = [
    f'  {what} ({len(names)}): {", ".join(names)}'
    for what, names in (('missing keys', missing), ('unknown keys', unknown), ('wrong shapes', wrong_shapes))
    if names
  ]
  if problems:
    raise ValueError('\n'.join([f'The state dict does not fit {target}:', *problems, *([hint] if hint else [])]))
  return traverse_util.unflatten_dict(flat)


def variables_to_torch(
  variables: Any, shapes: Mapping[FlatPath, tuple[int, ...]], keys: Mapping[str, FlatPath], target: str
) -> dict[str, np.ndarray]:
  """Torch state dict (float32, torch layout) of flax `variables`, which must have exactly the given shapes."""
  flat = {path: np.asarray(value, np.float32) for path, value in traverse_util.flatten_dict(variables).items()}
  given = {path: value.shape for path, value in flat.items()}
  if given != dict(shapes):
    mismatched = sorted('/'.join(p) for p in set(given) | set(shapes) if given.get(p) != shapes.get(p))
    raise ValueError(f'The variables do not fit {target}; these differ in presence or shape: {", ".join(mismatched)}.')
  return {
    key: kernel_to_torch(flat[path]) if path[-1] == 'kernel' else np.ascontiguousarray(flat[path])
    for key, path in keys.items()
  }


def unwrap(state: Any, params_key: str | None) -> dict[str, Any]:
  """The state dict inside a BasicSR `{'params', 'params_ema'}` checkpoint (or `state` itself), `module.` removed.

  params_key picks one of the two (ValueError when absent); None takes the first present, `WRAPPER_KEYS` order.
  """
  if not isinstance(state, Mapping):
    raise ValueError(f'Expected a state dict (a mapping of names to tensors), got a {type(state).__name__}.')
  wrapped = [key for key in WRAPPER_KEYS if isinstance(state.get(key), Mapping)]
  if params_key is not None:
    if params_key not in wrapped:
      raise ValueError(
        f'No {params_key!r} state dict in the checkpoint; it holds '
        f'{" and ".join(map(repr, wrapped)) if wrapped else "a plain state dict"}. '
        f'Leave the params key unset to pick one automatically.'
      )
    state = state[params_key]
  elif wrapped:
    state = state[wrapped[0]]
  not_names = [key for key in state if not isinstance(key, str)]
  if not_names:
    raise ValueError(
      f'The state dict has keys that are not names ({", ".join(map(repr, not_names[:3]))}); expected parameter '
      'names such as conv_first.weight, as torch.save(model.state_dict()) writes them.'
    )
  return {key.removeprefix('module.'): value for key, value in state.items()}


def conv_dim(state: Mapping[str, Any], key: str, axis: int, default: int) -> int:
  """state[key].shape[axis] for a conv weight (4-D), else `default` (the converter reports the bad key later)."""
  value = state.get(key)
  return value.shape[axis] if getattr(value, 'ndim', 0) == 4 else default
