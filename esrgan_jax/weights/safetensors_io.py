"""Reads and writes `.safetensors` state dicts with the `safetensors` library's numpy API (no torch, no code run).

A `.safetensors` file is flat: a JSON header naming each tensor's dtype, shape and byte range, then the raw
little-endian data. Tools such as spandrel, chaiNNer and ComfyUI store an upscaler as its state dict with the torch
key names (`conv_first.weight`, OIHW). BasicSR's `{'params': sd, 'params_ema': sd}` checkpoints, flattened, become
keys prefixed `params.` / `params_ema.`; `load_state_dict` nests those again, so the result looks exactly like what
`esrgan_jax.weights.torch_io.load_state_dict` returns for the same checkpoint saved as a `.pth`.
"""

import os
from collections.abc import Mapping
from typing import Any

import ml_dtypes
import numpy as np
import safetensors
import safetensors.numpy

from esrgan_jax.data.atomic_write import atomic_path
from esrgan_jax.weights.official_files import WRAPPER_KEYS

# safetensors dtype -> the numpy dtype it is read as (little-endian). BF16 is read through ml_dtypes and widened
# to float32, as torch_io does; the float8/6/4 formats are refused.
READ_DTYPES = {
  'F64': '<f8',
  'F32': '<f4',
  'F16': '<f2',
  'BF16': ml_dtypes.bfloat16,
  'I64': '<i8',
  'I32': '<i4',
  'I16': '<i2',
  'I8': 'i1',
  'U64': '<u8',
  'U32': '<u4',
  'U16': '<u2',
  'U8': 'u1',
  'BOOL': '?',
  'C64': '<c8',
}
# numpy dtypes `save_state_dict` writes (the torch dtypes a state dict can hold that numpy has).
WRITE_DTYPES = ('float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool')
# Written into every file's header; safetensors readers that check the framework (transformers, some ComfyUI
# loaders) expect 'pt' for tensors in torch's layout.
METADATA = {'format': 'pt'}


def _array(name: str, tensor: dict[str, Any]) -> np.ndarray:
  """One deserialized tensor ({'dtype', 'shape', 'data'}) as a native-endian, C-contiguous numpy array."""
  dtype = READ_DTYPES.get(tensor['dtype'])
  if dtype is None:
    raise ValueError(
      f'tensor {name!r} has dtype {tensor["dtype"]}, which esrgan_jax does not read; save the state dict '
      f'with one of {", ".join(READ_DTYPES)} (e.g. F32 or F16).'
    )
  array = np.frombuffer(bytes(tensor['data']), dtype).reshape(tensor['shape'])
  return array.astype(np.float32 if tensor['dtype'] == 'BF16' else array.dtype.newbyteorder('='))


def load_state_dict(path: str | os.PathLike) -> dict[str, Any]:
  """Reads a `.safetensors` state dict: {key: numpy array in its dtype (BF16 as float32)}, keys in file order.

  Keys `params.<name>` and `params_ema.<name>` are nested into `{'params': {<name>: ...}, 'params_ema': ...}`, the
  shape of a BasicSR checkpoint read by `torch_io.load_state_dict`. Raises FileNotFoundError, and ValueError for a
  truncated file, a malformed header or an unsupported dtype.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No .safetensors file at {path!r}.')
  with open(path, 'rb') as file:
    data = file.read()
  try:
    tensors = safetensors.deserialize(data)
  except safetensors.SafetensorError as e:
    raise ValueError(f'{path}: truncated or corrupt .safetensors file ({e}); download or export it again.') from None
  state: dict[str, Any] = {}
  for name, tensor in tensors:
    try:
      array = _array(name, tensor)
    except ValueError as e:
      raise ValueError(f'{path}: {e}') from None
    wrapper, _, rest = name.partition('.')
    if wrapper in WRAPPER_KEYS and rest:
      state.setdefault(wrapper, {})[rest] = array
    else:
      state[name] = array
  return state


def _flatten(state: Mapping, prefix: str = '') -> dict[str, np.ndarray]:
  flat = {}
  for key, value in state.items():
    name = f'{prefix}{key}'
    if isinstance(value, Mapping):
      flat.update(_flatten(value, f'{name}.'))
    elif isinstance(value, (np.ndarray, np.generic)) and value.dtype.name in WRITE_DTYPES:
      flat[name] = np.asarray(value, order='C')  # (np.ascontiguousarray makes 0-d arrays 1-d)
    else:
      what = f'dtype {value.dtype}' if hasattr(value, 'dtype') else f'a {type(value).__name__}'
      raise TypeError(
        f'{name} is {what}; a .safetensors state dict holds numpy arrays of {", ".join(WRITE_DTYPES)} only.'
      )
  return flat


def save_state_dict(path: str | os.PathLike, state: Mapping) -> None:
  """Writes `state` ({key: numpy array}; nested mappings become `outer.inner` keys) as a `.safetensors` file.

  `safetensors.torch.load_file(path)` returns the same keys as torch tensors of the same dtypes.
  """
  if not isinstance(state, Mapping):
    raise TypeError(f'state must be a mapping of names to numpy arrays, got {type(state).__name__}.')
  flat = _flatten(state)
  with atomic_path(path) as partial:  # a local file or a URL (epath)
    partial.write_bytes(safetensors.numpy.save(flat, metadata=METADATA))
