"""Self-describing model files: flax msgpack holding `{'arch', 'config', 'variables'}`; no torch needed to load.

`arch` names a module class of this package and `config` its constructor fields, so `load_generator` can rebuild
the network of any converted official file (scale 4/2/1, any block count) or of our own training export.
"""
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from esrgan_jax.discriminator import VGGStyleDiscriminator
from esrgan_jax.rrdbnet import RRDBNet
from esrgan_jax.vgg import VGG19Features

ARCHS = {cls.__name__: cls for cls in (RRDBNet, VGGStyleDiscriminator, VGG19Features)}
DEFAULT_VGG19_PATH = Path(__file__).resolve().parent.parent / 'third_party' / 'vgg_weights' / 'vgg19.msgpack'


def save_model(path: str | os.PathLike, arch: str, config: dict[str, Any], variables: Any) -> None:
  """Writes variables (e.g. {'params': ..., 'batch_stats': ...}) with the arch name and constructor fields."""
  if arch not in ARCHS:
    raise ValueError(f'Unknown arch {arch!r}; expected one of {sorted(ARCHS)}.')
  state = {'arch': arch, 'config': dict(config), 'variables': jax.tree.map(np.asarray, variables)}
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name(path.name + '.tmp')
  tmp.write_bytes(serialization.msgpack_serialize(state))
  tmp.replace(path)


def load_model(path: str | os.PathLike) -> tuple[str, dict[str, Any], dict[str, Any]]:
  """Returns (arch, config, variables) from a file written by `save_model`."""
  path = Path(path)
  if not path.is_file():
    raise FileNotFoundError(f'No model file at {path}.')
  try:
    state = serialization.msgpack_restore(path.read_bytes())
  except Exception as e:  # msgpack raises several unrelated types for foreign or truncated files
    raise ValueError(f'{path} is not an esrgan_jax model file ({e}). Convert PyTorch weights first with '
                     f'`python -m esrgan_jax.convert`.') from e
  if not isinstance(state, dict) or state.get('arch') not in ARCHS or 'variables' not in state:
    raise ValueError(f'{path} is not an esrgan_jax model file (no arch/variables). Convert PyTorch weights first '
                     f'with `python -m esrgan_jax.convert`.')
  return state['arch'], dict(state.get('config', {})), state['variables']


def save_generator(path: str | os.PathLike, module: RRDBNet, params: Any) -> None:
  """Saves an RRDBNet's params with the fields needed to rebuild it (dtype is not stored)."""
  fields = ('num_in_ch', 'num_out_ch', 'scale', 'num_feat', 'num_block', 'num_grow_ch', 'res_scale', 'init_scale')
  save_model(path, 'RRDBNet', {f: getattr(module, f) for f in fields}, {'params': params})


def load_generator(path: str | os.PathLike, dtype: Any = None) -> tuple[RRDBNet, Any]:
  """Returns (RRDBNet, params) from a generator file; `dtype` sets the compute dtype (e.g. jnp.bfloat16)."""
  arch, config, variables = load_model(path)
  if arch != 'RRDBNet':
    raise ValueError(f'{path} holds a {arch}, not a generator (RRDBNet).')
  return RRDBNet(**config, dtype=dtype), variables['params']


def load_vgg19_params(path: str | os.PathLike | None = None) -> Any:
  """Params of `VGG19Features` converted from torchvision's `vgg19-dcbb9e9d.pth` (default: third_party/vgg_weights)."""
  path = Path(path or DEFAULT_VGG19_PATH)
  if not path.is_file():
    raise FileNotFoundError(
        f'VGG19 weights not found at {path}. The perceptual loss needs torchvision\'s ImageNet VGG19 '
        f'(vgg19-dcbb9e9d.pth, from torchvision.models.vgg19(weights="IMAGENET1K_V1") or the PyTorch model zoo). '
        f'Convert it once with: python -m esrgan_jax.convert vgg19 vgg19-dcbb9e9d.pth {DEFAULT_VGG19_PATH}')
  arch, _, variables = load_model(path)
  if arch != 'VGG19Features':
    raise ValueError(f'{path} holds a {arch}, not VGG19 features.')
  return variables['params']

