"""Loading a generator from any file a user has: our msgpack model file, or a PyTorch `.pth` or `.safetensors` state
dict converted in memory (read without torch and without running code from the file; the family and architecture
inferred by `generator_state_dicts.generator_from_torch`).

Files with a suffix of `STATE_DICT_SUFFIXES` are state dicts; files with another suffix are state dicts when their
first bytes are a zip archive, a pickle or a safetensors header, else our model files.
"""

import os
from pathlib import Path
from typing import Any

import flax.linen as nn

from esrgan_jax.weights import generator_state_dicts, model_io, torch_io
from esrgan_jax.weights.state_dict_files import is_safetensors, read_state_dict

STATE_DICT_SUFFIXES = ('.pth', '.pt', '.ckpt', '.safetensors')


def is_state_dict_file(path: str | os.PathLike) -> bool:
  """Whether `path` is a PyTorch-layout state dict (.pth or .safetensors; by suffix, else by content), not one of
  our model files."""
  path = Path(path)
  if path.suffix.lower() in STATE_DICT_SUFFIXES:
    return True
  if not path.is_file():
    raise FileNotFoundError(f'No model file at {path}.')
  with path.open('rb') as file:
    head = file.read(4)
  return head.startswith(torch_io.FILE_HEADS) or is_safetensors(path)


def load_generator_file(path: str | os.PathLike, dtype: Any = None) -> tuple[nn.Module, Any]:
  """(generator, params) from an esrgan_jax model file or a PyTorch generator state dict (any family and key scheme
  `generator_state_dicts` reads; `params_ema` preferred); `dtype` sets the compute dtype.

  Raises FileNotFoundError, or ValueError naming the file and what is wrong with it.
  """
  if not is_state_dict_file(path):
    return model_io.load_generator(path, dtype=dtype)
  try:
    module, params = generator_state_dicts.generator_from_torch(read_state_dict(path))
  except ValueError as e:
    raise ValueError(f'{path}: {e}') from e
  return module.clone(dtype=dtype), params


def describe_file(path: str | os.PathLike, module: nn.Module) -> str:
  """One line for users: what was loaded from where, e.g. 'RRDBNet(scale 4, 23 blocks, ...) from x.pth (PyTorch)'."""
  kind = 'PyTorch state dict, converted in memory' if is_state_dict_file(path) else 'esrgan_jax model file'
  return f'{generator_state_dicts.describe_generator(module)} from {path} ({kind})'
