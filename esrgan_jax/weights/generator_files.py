"""Loading a generator from any file a user has: our msgpack model file, or an official PyTorch `.pth` converted in
memory (read by `torch_io` without torch and without running code from the file; architecture inferred by
`state_dicts.generator_from_torch`).

`STATE_DICT_READERS` maps a file suffix to the reader of a torch-layout state dict; files with another suffix are
read as `.pth` when their first bytes are a zip archive or a pickle, else as our model file.
"""

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import flax.linen as nn

from esrgan_jax.weights import model_io, state_dicts, torch_io

StateDictReader = Callable[[str | os.PathLike], Mapping[str, Any]]
STATE_DICT_READERS: dict[str, StateDictReader] = {'.pth': torch_io.load_state_dict, '.pt': torch_io.load_state_dict}
_TORCH_HEADS = (b'PK\x03\x04', b'\x80')  # torch's zip format, and the pickle protocol opcode of its legacy format


def state_dict_reader(path: str | os.PathLike) -> StateDictReader | None:
  """The reader of a PyTorch-layout state dict file (by suffix, else by content), or None for our model files."""
  path = Path(path)
  if path.suffix.lower() in STATE_DICT_READERS:
    return STATE_DICT_READERS[path.suffix.lower()]
  if not path.is_file():
    raise FileNotFoundError(f'No model file at {path}.')
  with path.open('rb') as file:
    head = file.read(4)
  return torch_io.load_state_dict if head.startswith(_TORCH_HEADS) else None


def load_generator_file(path: str | os.PathLike, dtype: Any = None) -> tuple[nn.Module, Any]:
  """(generator, params) from an esrgan_jax model file or a PyTorch generator state dict (RRDBNet of BasicSR,
  Real-ESRGAN or the ESRGAN repo, or BasicSR's MSRResNet; `params_ema` preferred); `dtype` sets the compute dtype.

  Raises FileNotFoundError, or ValueError naming the file and what is wrong with it.
  """
  reader = state_dict_reader(path)
  if reader is None:
    return model_io.load_generator(path, dtype=dtype)
  try:
    module, params = state_dicts.generator_from_torch(reader(path))
  except ValueError as e:
    raise ValueError(f'{path}: {e}') from e
  return module.clone(dtype=dtype), params


def describe_file(path: str | os.PathLike, module: nn.Module) -> str:
  """One line for users: what was loaded from where, e.g. 'RRDBNet(scale 4, 23 blocks, ...) from x.pth (PyTorch)'."""
  kind = 'esrgan_jax model file' if state_dict_reader(path) is None else 'PyTorch state dict, converted in memory'
  return f'{state_dicts.describe_generator(module)} from {path} ({kind})'
