"""Reads and writes PyTorch `.pth` state dicts with numpy only, never running code from the pickle.

Reads both layouts torch writes: the zip archive of torch >= 1.6 (`<folder>/data.pkl` plus one raw record per
storage under `<folder>/data/`) and the legacy stream of torch < 1.6 (five pickles, then each storage as an int64
element count and its raw bytes). The pickle is unpickled with an allow-list: only the few globals a state dict
needs resolve, each to a harmless stand-in defined here, and any other global raises `UnsafeCheckpointError`
before anything of the file runs. Writes the zip layout, which `torch.load(path, weights_only=True)` accepts.
"""

import functools
import io
import math
import os
import pickle
import struct
import zipfile
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from esrgan_jax.data.atomic_write import atomic_path

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # First pickle of a legacy torch file.
LEGACY_PROTOCOL_VERSION = 1001
# First bytes of torch files: the zip format's local file header, and the pickle PROTO opcode of the legacy format.
FILE_HEADS = (b'PK\x03\x04', b'\x80')
MAX_ZIP_RATIO = 64  # the most a zip record may unpack to, per byte stored (torch stores records uncompressed)
# Torch storage class -> numpy dtype name of its elements (bfloat16 is read as float32, written from ml_dtypes).
STORAGE_DTYPES = {
  'DoubleStorage': 'float64',
  'FloatStorage': 'float32',
  'HalfStorage': 'float16',
  'BFloat16Storage': 'bfloat16',
  'LongStorage': 'int64',
  'IntStorage': 'int32',
  'ShortStorage': 'int16',
  'CharStorage': 'int8',
  'ByteStorage': 'uint8',
  'BoolStorage': 'bool',
  'ComplexFloatStorage': 'complex64',
  'ComplexDoubleStorage': 'complex128',
}
_STORAGE_BY_DTYPE = {dtype: name for name, dtype in STORAGE_DTYPES.items()}
_RECORD_ALIGNMENT = 64  # Torch starts every zip record's data at a multiple of 64 bytes.


class UnsafeCheckpointError(ValueError):
  """The checkpoint's pickle references a global that a plain state dict never needs."""


class _StorageType(NamedTuple):
  """Stand-in for a global such as `torch.FloatStorage`."""

  name: str
  dtype: str

  @property
  def itemsize(self) -> int:
    return 2 if self.dtype == 'bfloat16' else np.dtype(self.dtype).itemsize


class _StorageRef(NamedTuple):
  """A storage named by a persistent id: elements [start, stop) of the record `key`."""

  key: str
  type: _StorageType
  start: int = 0
  stop: int | None = None


class _TensorRef(NamedTuple):
  """What `torch._utils._rebuild_tensor_v2` would build, kept as data until the storages are read."""

  storage: _StorageRef
  offset: int
  shape: tuple[int, ...]
  stride: tuple[int, ...]


class _OrderedDict(dict):
  """Stand-in for `collections.OrderedDict`; drops attributes such as a module state dict's `_metadata`."""

  def __setstate__(self, state: Any) -> None:
    del state


def _rebuild_tensor(storage, offset, shape, stride, *unused_grad_hooks_metadata) -> _TensorRef:
  if not isinstance(storage, _StorageRef):
    raise ValueError(f'tensor rebuilt from {type(storage).__name__}, expected a storage persistent id')
  return _TensorRef(storage, offset, tuple(shape), tuple(stride))


def _rebuild_parameter(data, unused_requires_grad, unused_backward_hooks):
  return data


_ALLOWED_GLOBALS = {
  ('collections', 'OrderedDict'): _OrderedDict,
  ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
  ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
  ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
  **{('torch', name): _StorageType(name, dtype) for name, dtype in STORAGE_DTYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
  """Resolves only `_ALLOWED_GLOBALS`; records the type of every storage the pickle names in `storage_types`."""

  def __init__(self, file: io.BufferedIOBase):
    super().__init__(file, encoding='utf-8')
    self.storage_types: dict[str, _StorageType] = {}

  def find_class(self, module: str, name: str) -> Any:
    try:
      return _ALLOWED_GLOBALS[module, name]
    except KeyError:
      raise UnsafeCheckpointError(
        f'refusing to load: the pickle asks for the global {module}.{name}, which is not on the allow-list '
        f'of what a state dict of tensors needs ({", ".join(f"{m}.{n}" for m, n in _ALLOWED_GLOBALS)}).'
      ) from None

  def persistent_load(self, pid: Any) -> _StorageRef:
    """('storage', storage type, key, location, numel[, legacy view]) -> a reference to the record `key`."""
    match pid:
      case ('storage', _StorageType() as storage_type, str(key), str(), int(), *view):
        self.storage_types[key] = storage_type
        match view:
          case [] | [None]:
            return _StorageRef(key, storage_type)
          case [(str(), int(start), int(size))] if start >= 0 and size >= 0:  # Legacy view: a slice of `key`.
            return _StorageRef(key, storage_type, start, start + size)
    raise ValueError(f'unexpected persistent id {pid!r}, expected a torch storage')


def _unpickle(file: io.BufferedIOBase) -> tuple[Any, dict[str, _StorageType]]:
  """Reads the next pickle of `file` (leaving it just past it): (object, storage types by key)."""
  unpickler = _RestrictedUnpickler(file)
  try:
    return unpickler.load(), unpickler.storage_types
  except UnsafeCheckpointError:
    raise
  except Exception as e:  # A malformed pickle; only the stand-ins above can have run.
    raise pickle.UnpicklingError(f'{type(e).__name__}: {e}') from e


def _storage_array(raw: bytes, storage_type: _StorageType, big_endian: bool) -> np.ndarray:
  """The elements of one storage record as a 1-D native-endian array (bfloat16 widened to float32)."""
  order = '>' if big_endian else '<'
  if len(raw) % storage_type.itemsize:
    raise ValueError(f'{len(raw)} bytes of {storage_type.name} is not a whole number of elements')
  if storage_type.dtype == 'bfloat16':
    return (np.frombuffer(raw, order + 'u2').astype(np.uint32) << 16).view(np.float32)
  dtype = np.dtype(storage_type.dtype).newbyteorder(order)
  return np.frombuffer(raw, dtype).astype(dtype.newbyteorder('='), copy=False)


def _tensor_array(tensor: _TensorRef, storage: np.ndarray) -> np.ndarray:
  """A C-contiguous copy of `tensor`, after checking that it lies inside its storage."""
  dims = (tensor.offset, *tensor.shape, *tensor.stride)
  if len(tensor.shape) != len(tensor.stride) or not all(isinstance(d, int) and d >= 0 for d in dims):
    raise ValueError(f'invalid tensor geometry: offset {tensor.offset}, shape {tensor.shape}, stride {tensor.stride}')
  if 0 in tensor.shape:
    return np.zeros(tensor.shape, storage.dtype)
  last = tensor.offset + sum((n - 1) * s for n, s in zip(tensor.shape, tensor.stride))
  if math.prod(tensor.shape) > storage.size:  # checked before the copy is allocated (zero strides repeat data)
    raise ValueError(
      f'tensor of shape {tensor.shape} has more elements than its storage {tensor.storage.key!r} holds '
      f'({storage.size}); the file is corrupt'
    )
  if last >= storage.size:
    raise ValueError(
      f'tensor of shape {tensor.shape} needs {last + 1} elements but its storage '
      f'{tensor.storage.key!r} has {storage.size}; the file is corrupt'
    )
  view = np.lib.stride_tricks.as_strided(
    storage[tensor.offset :], tensor.shape, [s * storage.itemsize for s in tensor.stride], writeable=False
  )
  return np.array(view, order='C')


def _materialize(obj: Any, read_storage: Callable[[_StorageRef], np.ndarray]) -> Any:
  """Replaces tensor references by arrays and dict subclasses by plain dicts, recursively."""
  if isinstance(obj, _TensorRef):
    return _tensor_array(obj, read_storage(obj.storage))
  if isinstance(obj, _StorageRef):
    return np.array(read_storage(obj))
  if isinstance(obj, dict):
    return {k: _materialize(v, read_storage) for k, v in obj.items()}
  if type(obj) in (list, tuple):
    return type(obj)(_materialize(v, read_storage) for v in obj)
  return obj


def _load_zip(file: io.BufferedIOBase) -> Any:
  with zipfile.ZipFile(file) as archive:
    pickles = [n for n in archive.namelist() if n.count('/') == 1 and n.endswith('/data.pkl')]
    if len(pickles) != 1:
      raise ValueError(
        f'a zip archive but not a torch checkpoint: expected exactly one <folder>/data.pkl entry, found {len(pickles)}.'
      )
    folder = pickles[0].removesuffix('data.pkl')
    byteorder = 'little'
    if folder + 'byteorder' in archive.namelist():
      byteorder = archive.read(folder + 'byteorder').decode('ascii', 'replace').strip()
    if byteorder not in ('little', 'big'):
      raise ValueError(f'unknown byteorder {byteorder!r} (expected little or big).')
    obj, _ = _unpickle(io.BytesIO(archive.read(pickles[0])))

    @functools.cache
    def read_record(key: str, storage_type: _StorageType) -> np.ndarray:
      info = archive.getinfo(f'{folder}data/{key}')
      if info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):  # torch stores records uncompressed
        raise ValueError(f'record {key!r} unpacks {info.compress_size} bytes to {info.file_size} (a zip bomb?)')
      return _storage_array(archive.read(info), storage_type, byteorder == 'big')

    return _materialize(obj, lambda ref: read_record(ref.key, ref.type)[ref.start : ref.stop])


def _load_legacy(file: io.BufferedIOBase) -> Any:
  """Reads the pickles magic number, protocol version, sys_info, object and storage keys, then the storages."""

  end = file.seek(0, io.SEEK_END)
  file.seek(0)

  def read_exactly(size: int) -> bytes:
    if not 0 <= size <= end - file.tell():  # a declared size is checked before a buffer is allocated for it
      raise EOFError(f'a storage of {size} bytes is declared, but {end - file.tell()} bytes are left')
    data = file.read(size)
    if len(data) != size:
      raise EOFError(f'the file ends {size - len(data)} bytes early')
    return data

  try:
    magic, _ = _unpickle(file)
  except pickle.UnpicklingError:
    magic = None
  if magic != LEGACY_MAGIC_NUMBER:
    file.seek(0)
    raise ValueError(
      f'not a torch checkpoint: expected a zip archive (torch >= 1.6) or a legacy torch file '
      f'(a pickle of the magic number {LEGACY_MAGIC_NUMBER:#x}), but it starts with {file.read(16)!r}.'
    )
  protocol, _ = _unpickle(file)
  if protocol != LEGACY_PROTOCOL_VERSION:
    raise ValueError(f'unsupported legacy protocol version {protocol!r} (expected {LEGACY_PROTOCOL_VERSION}).')
  sys_info, _ = _unpickle(file)
  byteorder = 'little' if not isinstance(sys_info, dict) or sys_info.get('little_endian', True) else 'big'
  obj, storage_types = _unpickle(file)
  keys, _ = _unpickle(file)
  storages = {}
  for key in keys:
    numel = int.from_bytes(read_exactly(8), byteorder, signed=True)
    storage_type = storage_types[key]
    storages[key] = _storage_array(read_exactly(numel * storage_type.itemsize), storage_type, byteorder == 'big')
  return _materialize(obj, lambda ref: storages[ref.key][ref.start : ref.stop])


def load_state_dict(path: str | os.PathLike) -> Any:
  """Reads a torch `.pth` (zip or legacy format) without torch and without running code from it.

  Returns the saved container with every tensor as a C-contiguous numpy array of its dtype (bfloat16 becomes
  float32); dicts and OrderedDicts (e.g. `{'params': sd, 'params_ema': sd}`) become plain dicts in their key order,
  python scalars, strings, lists and tuples pass through. Raises FileNotFoundError, UnsafeCheckpointError for a
  pickle that asks for anything beyond tensors and dicts, and ValueError for other or damaged files.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No torch checkpoint at {path!r}.')
  with open(path, 'rb') as file:
    head = file.read(512)
    file.seek(0)
    try:
      if head.startswith(FILE_HEADS[0]):
        return _load_zip(file)
      if head[257:262] == b'ustar':
        raise ValueError(
          'this is the tar format of the earliest torch releases, which is not supported; load it '
          'with such an old torch and torch.save it again.'
        )
      return _load_legacy(file)
    except UnsafeCheckpointError as e:
      raise UnsafeCheckpointError(f'{path}: {e}') from None
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, KeyError) as e:
      raise ValueError(f'{path}: truncated or corrupt torch checkpoint ({type(e).__name__}: {e}).') from e
    except ValueError as e:
      raise ValueError(f'{path}: {e}') from e


class _StateDictPickler:
  """Writes the protocol-2 pickle torch writes for a state dict, collecting the arrays to store in `storages`.

  Written opcode by opcode: the standard Pickler would import torch to check globals such as torch.FloatStorage.
  """

  def __init__(self):
    self.out = io.BytesIO()
    self.storages: list[np.ndarray] = []

  def dumps(self, obj: Any) -> bytes:
    self.out.write(pickle.PROTO + b'\x02')
    self._save(obj, 'state')
    self.out.write(pickle.STOP)
    return self.out.getvalue()

  def _global(self, module: str, name: str) -> None:
    self.out.write(pickle.GLOBAL + f'{module}\n{name}\n'.encode())

  def _save(self, obj: Any, where: str) -> None:
    write = self.out.write
    if isinstance(obj, Mapping):
      write(pickle.EMPTY_DICT)
      for key, value in obj.items():
        self._save(key, where)
        self._save(value, f'{where}[{key!r}]')
        write(pickle.SETITEM)
    elif isinstance(obj, (np.ndarray, np.generic)):
      self._save_tensor(np.asarray(obj), where)
    elif isinstance(obj, (tuple, list)):
      write(pickle.MARK if isinstance(obj, tuple) else pickle.EMPTY_LIST + pickle.MARK)
      for i, value in enumerate(obj):
        self._save(value, f'{where}[{i}]')
      write(pickle.TUPLE if isinstance(obj, tuple) else pickle.APPENDS)
    elif obj is None:
      write(pickle.NONE)
    elif isinstance(obj, bool):
      write(pickle.NEWTRUE if obj else pickle.NEWFALSE)
    elif isinstance(obj, int):
      data = obj.to_bytes(obj.bit_length() // 8 + 1, 'little', signed=True)
      write(pickle.LONG1 + bytes([len(data)]) + data)
    elif isinstance(obj, float):
      write(pickle.BINFLOAT + struct.pack('>d', obj))
    elif isinstance(obj, str):
      data = obj.encode('utf-8')
      write(pickle.BINUNICODE + struct.pack('<I', len(data)) + data)
    else:
      raise TypeError(
        f'{where} is a {type(obj).__name__}; a state dict holds only mappings, numpy arrays, '
        f'lists, tuples, str, int, float, bool and None.'
      )

  def _save_tensor(self, array: np.ndarray, where: str) -> None:
    """Emits `torch._utils._rebuild_tensor_v2(storage, 0, shape, stride, False, OrderedDict())`."""
    storage_name = _STORAGE_BY_DTYPE.get(array.dtype.name)
    if storage_name is None:
      raise TypeError(
        f'{where} has dtype {array.dtype}, which has no torch storage type; cast it to one of '
        f'{", ".join(_STORAGE_BY_DTYPE)}.'
      )
    stride = [1] * array.ndim
    for i in reversed(range(array.ndim - 1)):
      stride[i] = stride[i + 1] * max(array.shape[i + 1], 1)
    self._global('torch._utils', '_rebuild_tensor_v2')
    self.out.write(pickle.MARK + pickle.MARK)
    self._save('storage', where)
    self._global('torch', storage_name)
    for item in (str(len(self.storages)), 'cpu', array.size):  # Storage key, location, numel.
      self._save(item, where)
    self.out.write(pickle.TUPLE + pickle.BINPERSID)
    for item in (0, array.shape, tuple(stride), False):  # Offset, shape, stride, requires_grad.
      self._save(item, where)
    self._global('collections', 'OrderedDict')  # backward_hooks.
    self.out.write(pickle.EMPTY_TUPLE + pickle.REDUCE + pickle.TUPLE + pickle.REDUCE)
    self.storages.append(array)


def _write_record(archive: zipfile.ZipFile, file: io.BufferedIOBase, name: str, data: bytes) -> None:
  """Adds an uncompressed entry whose data starts at a multiple of `_RECORD_ALIGNMENT` bytes, as torch does."""
  info = zipfile.ZipInfo(name)
  header_size = 30 + len(name.encode()) + 4  # Fixed local header, file name, padding field's id and length.
  padding = -(file.tell() + header_size) % _RECORD_ALIGNMENT
  info.extra = b'FB' + struct.pack('<H', padding) + b'Z' * padding
  archive.writestr(info, data)


def save_state_dict(path: str | os.PathLike, state: Mapping) -> None:
  """Writes `state` (nested mappings of str -> numpy array or python scalar) as a torch >= 1.6 zip `.pth`.

  `torch.load(path, weights_only=True)` returns it as the same nested dicts with every array a torch tensor of its
  dtype (bfloat16 arrays of ml_dtypes become torch.bfloat16).
  """
  if not isinstance(state, Mapping):
    raise TypeError(f'state must be a mapping such as {{"params": ...}}, got {type(state).__name__}.')
  pickler = _StateDictPickler()
  data_pkl = pickler.dumps(state)
  with (
    atomic_path(path) as partial,
    open(partial, 'wb') as file,
    zipfile.ZipFile(file, 'w', zipfile.ZIP_STORED) as archive,
  ):
    _write_record(archive, file, 'archive/data.pkl', data_pkl)
    _write_record(archive, file, 'archive/byteorder', b'little')
    for key, array in enumerate(pickler.storages):
      little_endian = np.ascontiguousarray(array).astype(array.dtype.newbyteorder('<'), copy=False)
      _write_record(archive, file, f'archive/data/{key}', little_endian.tobytes())
    _write_record(archive, file, 'archive/version', b'3\n')
