"""Self-describing model files: flax msgpack holding `{'arch', 'config', 'variables'}`; no torch needed to load.

`arch` names a module class of this package and `config` its constructor fields, so `load_generator` can rebuild
the generator (RRDBNet, MSRResNet or SRVGGNetCompact, any scale and size) of a converted official file or of our own
training export, `esrgan_jax.weights.perceptual` the VGG19 or MINC weights of the perceptual loss, and
`esrgan_jax.weights.lpips_weights` and `dists_weights` the LPIPS and DISTS metrics'.
"""

import dataclasses
import os
from typing import Any

import flax.linen as nn
import jax
import numpy as np
from flax import serialization

from esrgan_jax.data import storage
from esrgan_jax.data.atomic_write import atomic_path
from esrgan_jax.models.discriminator import VGGStyleDiscriminator
from esrgan_jax.models.dists import DISTS
from esrgan_jax.models.lpips import LPIPS
from esrgan_jax.models.minc import MINCNet
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.models.srresnet import MSRResNet
from esrgan_jax.models.srvgg import SRVGGNetCompact
from esrgan_jax.models.vgg import VGG19Features

GENERATOR_ARCHS: dict[str, type] = {cls.__name__: cls for cls in (RRDBNet, MSRResNet, SRVGGNetCompact)}
ARCHS = {
  **GENERATOR_ARCHS,
  **{cls.__name__: cls for cls in (VGGStyleDiscriminator, VGG19Features, MINCNet, LPIPS, DISTS)},
}
# Module fields that say how to run a network, not what it is: never stored in model files.
RUNTIME_FIELDS = ('dtype', 'param_dtype', 'dense_block', 'remat', 'scan_blocks', 'parent', 'name')


def save_model(path: str | os.PathLike, arch: str, config: dict[str, Any], variables: Any) -> None:
  """Writes variables (e.g. {'params': ..., 'batch_stats': ...}) with the arch name and constructor fields."""
  if arch not in ARCHS:
    raise ValueError(f'Unknown arch {arch!r}; expected one of {sorted(ARCHS)}.')
  state = {'arch': arch, 'config': dict(config), 'variables': jax.tree.map(np.asarray, variables)}
  path = storage.path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  with atomic_path(path) as partial:
    partial.write_bytes(serialization.msgpack_serialize(state))


def load_model(path: str | os.PathLike) -> tuple[str, dict[str, Any], dict[str, Any]]:
  """Returns (arch, config, variables) from a file written by `save_model`."""
  path = storage.path(path)
  if not path.is_file():
    raise FileNotFoundError(f'No model file at {path}.')
  try:
    state = serialization.msgpack_restore(path.read_bytes())
  except Exception as e:  # msgpack raises several unrelated types for foreign or truncated files
    raise ValueError(
      f'{path} is not an esrgan_jax model file ({e}). Convert PyTorch weights first with '
      f'`python -m esrgan_jax.convert`.'
    ) from e
  if not isinstance(state, dict) or state.get('arch') not in ARCHS or 'variables' not in state:
    raise ValueError(
      f'{path} is not an esrgan_jax model file (no arch/variables). Convert PyTorch weights first '
      f'with `python -m esrgan_jax.convert`.'
    )
  return state['arch'], dict(state.get('config', {})), state['variables']


def generator_fields(cls: type[nn.Module]) -> tuple[str, ...]:
  """The constructor fields of a generator class that configs and generator files hold (all but the dtypes)."""
  return tuple(f.name for f in dataclasses.fields(cls) if f.name not in RUNTIME_FIELDS)


def save_generator(path: str | os.PathLike, module: nn.Module, params: Any) -> None:
  """Saves a BN-free generator (any of GENERATOR_ARCHS) with its constructor fields (not dtype/param_dtype)."""
  arch = type(module).__name__
  if arch not in GENERATOR_ARCHS:
    raise ValueError(f'save_generator saves generators ({", ".join(GENERATOR_ARCHS)}), not {arch}.')
  if getattr(module, 'use_bn', False):
    raise ValueError(
      f'{arch} has BatchNorm layers (use_bn=True); generator files hold BN-free generators. Fold the '
      'BatchNorm first: module, params = esrgan_jax.models.fold_batch_norm.fold_batch_norm(module, variables).'
    )
  if getattr(module, 'scan_blocks', False):
    raise ValueError(
      f'{arch} with scan_blocks=True holds its blocks stacked; generator files hold body_0..body_N-1. Save '
      f'module.clone(scan_blocks=False) with the params of esrgan_jax.models.rrdbnet.unstack_blocks(params).'
    )
  save_model(path, arch, {f: getattr(module, f) for f in generator_fields(type(module))}, {'params': params})


def load_generator(path: str | os.PathLike, dtype: Any = None) -> tuple[nn.Module, Any]:
  """Returns (generator, params) from a generator file; `dtype` sets the compute dtype (e.g. jnp.bfloat16).

  Entry points then choose the platform's implementation of its parts with `esrgan_jax.runtime.for_platform`.
  """
  arch, config, variables = load_model(path)
  if arch not in GENERATOR_ARCHS:
    raise ValueError(f'{path} holds a {arch}, not a generator ({", ".join(GENERATOR_ARCHS)}).')
  return GENERATOR_ARCHS[arch](**config, dtype=dtype), variables['params']
