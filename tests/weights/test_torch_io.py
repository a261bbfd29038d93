"""Tests for esrgan_jax.weights.torch_io: reading and writing .pth state dicts without torch, checked against torch."""

import os
import pickle
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from PIL import Image

from esrgan_jax.weights import torch_io

REPO_ROOT = Path(__file__).resolve().parents[2]
FORMATS = pytest.mark.parametrize('zip_format', [True, False], ids=['zip', 'legacy'])


@pytest.fixture
def torch():
  return pytest.importorskip('torch')


def _to_numpy(tensor) -> np.ndarray:
  """What load_state_dict must return for `tensor`: same values, bfloat16 widened to float32."""
  tensor = tensor.detach()
  return tensor.float().numpy() if str(tensor.dtype) == 'torch.bfloat16' else tensor.numpy()


def _torch_state_dict(torch, seed: int = 0):
  """A module state dict (OrderedDict with `_metadata`, `module.` keys) plus every tensor layout to read."""
  torch.manual_seed(seed)
  net = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3)))
  state = net.state_dict()
  shared = torch.randn(12)
  state.update(
    {
      'f32': torch.randn(2, 3),
      'f16': torch.randn(4).half(),
      'bf16': torch.randn(3).bfloat16(),
      'i64': torch.tensor([-(2**40), 3]),
      'bool': torch.tensor([True, False, True]),
      'scalar': torch.tensor(2.5),
      'transposed': torch.randn(3, 4).t(),
      'shared_a': shared[2:6],
      'shared_b': shared[4:].view(2, 4),
      'param': torch.nn.Parameter(torch.randn(2)),
    }
  )
  return state


def _assert_matches_torch(loaded: dict, state) -> None:
  assert type(loaded) is dict and list(loaded) == list(state)
  for key, tensor in state.items():
    expected = _to_numpy(tensor)
    assert (loaded[key].dtype, loaded[key].shape) == (expected.dtype, expected.shape), key
    np.testing.assert_array_equal(loaded[key], expected, err_msg=key)
    assert loaded[key].flags.c_contiguous and loaded[key].flags.writeable, key


@FORMATS
def test_load_matches_torch(torch, tmp_path, zip_format):
  state = _torch_state_dict(torch)
  torch.save(state, tmp_path / 'sd.pth', _use_new_zipfile_serialization=zip_format)
  loaded = torch_io.load_state_dict(tmp_path / 'sd.pth')
  _assert_matches_torch(loaded, state)
  assert 'module.0.weight' in loaded and loaded['module.1.num_batches_tracked'].dtype == np.int64
  assert not np.shares_memory(loaded['shared_a'], loaded['shared_b'])


@FORMATS
def test_load_wrapped_state_dicts_and_python_values(torch, tmp_path, zip_format):
  params, params_ema = _torch_state_dict(torch, seed=1), _torch_state_dict(torch, seed=2)
  extras = {'iter': 7, 'name': 'esrgan', 'scale': (4, 4), 'lrs': [1e-4, None], 'ema': True}
  torch.save(
    {'params': params, 'params_ema': params_ema, **extras},
    tmp_path / 'sd.pth',
    _use_new_zipfile_serialization=zip_format,
  )
  loaded = torch_io.load_state_dict(str(tmp_path / 'sd.pth'))
  assert list(loaded) == ['params', 'params_ema', *extras]
  _assert_matches_torch(loaded['params'], params)
  _assert_matches_torch(loaded['params_ema'], params_ema)
  assert {k: loaded[k] for k in extras} == extras and type(loaded['scale']) is tuple


def _state_to_save() -> dict:
  rng = np.random.default_rng(0)
  params = {
    'conv.weight': rng.standard_normal((3, 2, 3, 3)).astype(np.float32),
    'conv.bias': rng.standard_normal(3).astype(np.float16),
    'steps': np.array(5, np.int64),
    'mask': np.array([True, False]),
    'bf16': np.array([1.5, -2.0, 3.25], ml_dtypes.bfloat16),
    'strided': rng.standard_normal((4, 6)).astype(np.float32)[:, ::2].T,
  }
  return {
    'params': params,
    'params_ema': {'module.conv.weight': params['conv.weight'] * 2},
    'iter': 3,
    'lr': 0.5,
    'huge': 2**70,
    'name': 'x',
    'none': None,
    'shape': (1, -2),
    'list': [1, [2.5]],
  }


def test_save_loads_in_torch_weights_only(torch, tmp_path):
  state = _state_to_save()
  torch_io.save_state_dict(tmp_path / 'out.pth', state)
  loaded = torch.load(tmp_path / 'out.pth', weights_only=True)
  assert list(loaded) == list(state) and list(loaded['params']) == list(state['params'])
  for group in ('params', 'params_ema'):
    for key, array in state[group].items():
      tensor = loaded[group][key]
      assert str(tensor.dtype) == f'torch.{array.dtype}' and tuple(tensor.shape) == array.shape, key
      np.testing.assert_array_equal(_to_numpy(tensor), array.astype(_to_numpy(tensor).dtype), err_msg=key)
  assert {k: v for k, v in loaded.items() if 'params' not in k} == {k: v for k, v in state.items() if 'params' not in k}


def test_save_layout_matches_torch(tmp_path):
  torch_io.save_state_dict(tmp_path / 'out.pth', _state_to_save())
  raw = (tmp_path / 'out.pth').read_bytes()
  with zipfile.ZipFile(tmp_path / 'out.pth') as archive:
    infos = archive.infolist()
    assert [i.filename for i in infos] == [
      'archive/data.pkl',
      'archive/byteorder',
      *(f'archive/data/{k}' for k in range(7)),
      'archive/version',
    ]
    assert archive.read('archive/data.pkl')[:2] == b'\x80\x02'  # Pickle protocol 2.
    assert archive.read('archive/version') == b'3\n' and archive.read('archive/byteorder') == b'little'
  for info in infos:
    name_size, extra_size = struct.unpack('<HH', raw[info.header_offset + 26 : info.header_offset + 30])
    assert info.compress_type == zipfile.ZIP_STORED
    assert (info.header_offset + 30 + name_size + extra_size) % 64 == 0, info.filename


def test_save_then_load_is_exact(tmp_path):
  rng = np.random.default_rng(1)
  arrays = {
    dtype: (rng.standard_normal((2, 3)) * 50).astype(dtype)
    for dtype in ('float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool', 'complex64')
  }
  arrays.update(
    {
      '0-d': np.array(-3.5, np.float32),
      'empty': np.zeros((2, 0, 3), np.float32),
      'big-endian': np.arange(5, dtype='>i8'),
      'transposed': arrays['float32'].T,
      'bfloat16': np.array([1.5, -2.0, 3.25], ml_dtypes.bfloat16),
    }
  )
  state = {'nested': {'deeper': arrays}, 'n': 4}
  torch_io.save_state_dict(tmp_path / 'out.pth', state)
  loaded = torch_io.load_state_dict(tmp_path / 'out.pth')
  assert loaded['n'] == 4 and list(loaded['nested']['deeper']) == list(arrays)
  for key, array in arrays.items():
    expected = array.astype(np.float32 if key == 'bfloat16' else array.dtype.newbyteorder('='))
    result = loaded['nested']['deeper'][key]
    assert (result.dtype, result.shape) == (expected.dtype, expected.shape), key
    np.testing.assert_array_equal(result, expected, err_msg=key)


def test_save_rejects_unsupported_values(tmp_path):
  with pytest.raises(TypeError, match=r"state\['params'\]\['w'\] has dtype uint16"):
    torch_io.save_state_dict(tmp_path / 'out.pth', {'params': {'w': np.zeros(2, np.uint16)}})
  with pytest.raises(TypeError, match=r"state\['opt'\] is a set"):
    torch_io.save_state_dict(tmp_path / 'out.pth', {'opt': {1}})


class _Payload:
  """Pickles to a call of os.system or eval that creates `marker`."""

  def __init__(self, call: str, marker: Path):
    self.call, self.marker = call, marker

  def __reduce__(self):
    if self.call == 'system':
      return os.system, (f'touch {self.marker}',)
    return eval, (f'open({str(self.marker)!r}, "w").close()',)


def _pickles(*objects) -> bytes:
  return b''.join(pickle.dumps(obj, protocol=2) for obj in objects)


@pytest.mark.parametrize('container', ['zip', 'legacy', 'plain'])
@pytest.mark.parametrize(
  'call, global_name', [('system', rf'{os.system.__module__}\.system'), ('eval', r'__builtin__\.eval')]
)  # Protocol 2 names builtins so.
def test_malicious_pickle_is_refused_before_running(tmp_path, container, call, global_name):
  marker = tmp_path / 'pwned'
  payload = _pickles({'conv.bias': 1.0, 'conv.weight': _Payload(call, marker)})
  path = tmp_path / 'evil.pth'
  if container == 'zip':
    with zipfile.ZipFile(path, 'w') as archive:
      archive.writestr('evil/data.pkl', payload)
      archive.writestr('evil/version', '3\n')
  elif container == 'legacy':
    path.write_bytes(
      _pickles(torch_io.LEGACY_MAGIC_NUMBER, torch_io.LEGACY_PROTOCOL_VERSION, {'little_endian': True})
      + payload
      + _pickles([])
    )
  else:
    path.write_bytes(payload)
  with pytest.raises(torch_io.UnsafeCheckpointError, match=f'evil.pth.*{global_name}'):
    torch_io.load_state_dict(path)
  assert not marker.exists()
  pickle.loads(payload)  # The payload is live: a plain unpickler runs it.
  assert marker.exists()


def test_missing_file(tmp_path):
  with pytest.raises(FileNotFoundError, match='nothing.pth'):
    torch_io.load_state_dict(tmp_path / 'nothing.pth')


@pytest.mark.parametrize('kind', ['png', 'text', 'empty', 'zip'])
def test_not_a_checkpoint(tmp_path, kind):
  path = tmp_path / 'weights.pth'
  if kind == 'png':
    Image.new('RGB', (4, 4)).save(path, format='PNG')
  elif kind == 'zip':
    with zipfile.ZipFile(path, 'w') as archive:
      archive.writestr('notes/readme.txt', 'hello')
  else:
    path.write_text('model weights\n' if kind == 'text' else '')
  with pytest.raises(ValueError, match=r'weights.pth: .*not a torch checkpoint.*(zip|data.pkl)'):
    torch_io.load_state_dict(path)


def test_truncated_zip(tmp_path):
  path = tmp_path / 'cut.pth'
  torch_io.save_state_dict(path, _state_to_save())
  path.write_bytes(path.read_bytes()[:-100])
  with pytest.raises(ValueError, match='cut.pth: truncated or corrupt'):
    torch_io.load_state_dict(path)


@pytest.mark.parametrize('keep', [40, 400, -6])
def test_truncated_legacy(torch, tmp_path, keep):
  path = tmp_path / 'cut.pth'
  torch.save(_torch_state_dict(torch), path, _use_new_zipfile_serialization=False)
  path.write_bytes(path.read_bytes()[:keep])
  with pytest.raises(ValueError, match='cut.pth: truncated or corrupt'):
    torch_io.load_state_dict(path)


def _edit_records(path: Path, **edits) -> None:
  """Rewrites the zip at `path` with each record `archive/<name>` replaced by edits[name](its bytes)."""
  with zipfile.ZipFile(path) as archive:
    records = {i.filename: archive.read(i) for i in archive.infolist()}
  with zipfile.ZipFile(path, 'w') as archive:
    for name, data in records.items():
      edit = edits.get(name.removeprefix('archive/').replace('/', '_'))
      archive.writestr(name, edit(data) if edit else data)


def test_tensor_outside_its_storage_is_rejected(tmp_path):
  path = tmp_path / 'short.pth'
  torch_io.save_state_dict(path, {'w': np.arange(4, dtype=np.float32)})
  _edit_records(path, data_0=lambda data: data[:8])
  with pytest.raises(ValueError, match=r"has more elements than its storage '0' holds \(2\)"):
    torch_io.load_state_dict(path)


def test_big_endian_zip(tmp_path):
  state = {'w': np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), 'n': np.array([1, -(2**40)])}
  path = tmp_path / 'be.pth'
  torch_io.save_state_dict(path, state)
  _edit_records(
    path,
    byteorder=lambda _: b'big',
    data_0=lambda data: np.frombuffer(data, '<f4').astype('>f4').tobytes(),
    data_1=lambda data: np.frombuffer(data, '<i8').astype('>i8').tobytes(),
  )
  loaded = torch_io.load_state_dict(path)
  for key, array in state.items():
    assert loaded[key].dtype == array.dtype
    np.testing.assert_array_equal(loaded[key], array)


def test_old_tar_format_is_rejected(tmp_path):
  path = tmp_path / 'old.pth'
  (tmp_path / 'pickle').write_bytes(pickle.dumps({}))
  with tarfile.open(path, 'w') as archive:
    archive.add(tmp_path / 'pickle', arcname='pickle')
  with pytest.raises(ValueError, match='old.pth: this is the tar format'):
    torch_io.load_state_dict(path)


def test_reads_and_writes_with_torch_blocked(torch, tmp_path):
  state = {'w': torch.randn(3, 2).t(), 'h': torch.randn(2).half(), 'n': torch.tensor(3)}
  torch.save(state, tmp_path / 'zip.pth')
  torch.save(state, tmp_path / 'legacy.pth', _use_new_zipfile_serialization=False)
  script = '\n'.join(
    [
      'import sys',
      "sys.modules['torch'] = None  # Any `import torch` now raises ImportError.",
      'from esrgan_jax.weights import torch_io',
      "for name in ('zip', 'legacy'):",
      "  torch_io.save_state_dict(name + '_resaved.pth', torch_io.load_state_dict(name + '.pth'))",
    ]
  )
  env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(REPO_ROOT), os.environ.get('PYTHONPATH', '')])}
  result = subprocess.run([sys.executable, '-c', script], cwd=tmp_path, env=env, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr
  for name in ('zip', 'legacy'):
    resaved = torch.load(tmp_path / f'{name}_resaved.pth', weights_only=True)
    assert list(resaved) == list(state)
    for key, tensor in state.items():
      assert resaved[key].dtype == tensor.dtype and torch.equal(resaved[key], tensor), (name, key)
