"""Fuzzing the readers of user weight files (hypothesis): damaged `.pth` (zip and legacy), `.safetensors` and our
msgpack model files, and state dicts of any shape. Each either loads or raises ValueError/FileNotFoundError naming the
file (never another exception type), and declared tensor sizes are checked before memory is allocated."""

import io
import pickle
import struct
import tracemalloc

import numpy as np
import pytest
from helpers import tiny_generator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esrgan_jax import convert
from esrgan_jax.weights import generator_files, generator_state_dicts, model_io, safetensors_io, torch_io

# Derandomized, so CI sees the same cases on every run; a few hundred in all, under a minute on two cores.
FUZZ = settings(
  max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
DOCUMENTED_ERRORS = (ValueError, FileNotFoundError)


@pytest.fixture(scope='module')
def valid_files(tmp_path_factory) -> dict[str, bytes]:
  """The bytes of one tiny generator as a zip `.pth`, a `.safetensors` file and our `.msgpack` model file."""
  folder = tmp_path_factory.mktemp('valid')
  module, params = tiny_generator(2)
  state = generator_state_dicts.generator_to_torch(module, params)
  torch_io.save_state_dict(folder / 'g.pth', {'params_ema': state})
  safetensors_io.save_state_dict(folder / 'g.safetensors', state)
  model_io.save_generator(folder / 'g.msgpack', module, params)
  return {ext: (folder / f'g.{ext}').read_bytes() for ext in ('pth', 'safetensors', 'msgpack')}


def load_or_refuse(path):
  """Loads `path` as `upscale --model` does; returns None, or the documented error it raised (others propagate)."""
  try:
    generator_files.load_generator_file(path)
  except DOCUMENTED_ERRORS as e:
    assert str(path) in str(e) or 'No ' in str(e), f'the message does not name the file: {e}'
    assert str(e).count('\n') < 5, e
    return e
  return None


def damaged(data: bytes, draw) -> bytes:
  """`data` truncated, with bytes overwritten, or with bytes inserted."""
  kind = draw(st.sampled_from(['truncate', 'overwrite', 'insert']))
  at = draw(st.integers(0, len(data) - 1))
  if kind == 'truncate':
    return data[:at]
  patch = draw(st.binary(min_size=1, max_size=16))
  return data[:at] + patch + data[at + (len(patch) if kind == 'overwrite' else 0) :]


@pytest.mark.parametrize('ext', ['pth', 'safetensors', 'msgpack'])
@FUZZ
@given(data=st.data())
def test_damaged_files_load_or_are_refused(ext, valid_files, tmp_path_factory, data):
  path = tmp_path_factory.mktemp('fuzz') / f'model.{ext}'
  path.write_bytes(damaged(valid_files[ext], data.draw))
  load_or_refuse(path)


keys = st.one_of(st.text(max_size=12), st.integers(-3, 3), st.none(), st.tuples(st.integers(0, 2)))
leaves = st.one_of(
  st.integers(-(2**40), 2**40),
  st.floats(allow_nan=True),
  st.text(max_size=8),
  st.none(),
  st.builds(lambda shape: np.zeros(shape, np.float32), st.lists(st.integers(0, 3), max_size=4)),
)
containers = st.recursive(
  leaves, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=6)), max_leaves=20
)


@FUZZ
@given(state=st.one_of(containers, st.dictionaries(keys, containers, max_size=6)))
def test_any_pickled_structure_loads_or_is_refused(state, tmp_path_factory):
  """Also non-string keys, which once ended in `AttributeError: 'int' object has no attribute 'removeprefix'`."""
  path = tmp_path_factory.mktemp('fuzz') / 'state.pth'
  torch_io.save_state_dict(path, state) if isinstance(state, dict) else path.write_bytes(b'')
  if not isinstance(state, dict):
    with open(path, 'wb') as f:
      pickle.dump(state, f, protocol=2)  # legacy format header aside, the pickle itself is hostile
  load_or_refuse(path)


def test_non_string_keys_are_refused_with_a_message(tmp_path):
  torch_io.save_state_dict(tmp_path / 'int_keys.pth', {0: np.zeros(3, np.float32), 'conv_first.weight': 1})
  with pytest.raises(ValueError, match=r'int_keys\.pth: .*keys that are not names'):
    generator_files.load_generator_file(tmp_path / 'int_keys.pth')
  assert convert.main(['generator', str(tmp_path / 'int_keys.pth'), str(tmp_path / 'out.msgpack')]) == 2


def safetensors_declaring(shape: list[int], dtype: str = 'F32', data_bytes: int = 16) -> bytes:
  """A .safetensors file whose header declares one tensor of `shape` over `data_bytes` bytes of data."""
  header = f'{{"conv_first.weight":{{"dtype":"{dtype}","shape":{shape},"data_offsets":[0,{data_bytes}]}}}}'.encode()
  return struct.pack('<Q', len(header)) + header + bytes(data_bytes)


@pytest.mark.parametrize('shape', [[100000, 100000, 100, 100], [2**62, 4], [-1, 4], [3, 64, 3, 3]])
def test_safetensors_declaring_huge_or_bad_shapes_are_refused_without_allocating(shape, tmp_path):
  (tmp_path / 'big.safetensors').write_bytes(safetensors_declaring(shape))
  tracemalloc.start()
  try:
    error = load_or_refuse(tmp_path / 'big.safetensors')
    peak = tracemalloc.get_traced_memory()[1]
  finally:
    tracemalloc.stop()
  assert isinstance(error, ValueError) and peak < 16 * 2**20


@pytest.mark.parametrize('shape, stride', [((100000, 100000), (0, 0)), ((2**20, 2**20, 4), (0, 0, 1))])
def test_pth_tensor_larger_than_its_storage_is_refused_without_allocating(shape, stride, tmp_path):
  """A tensor view repeating a 4-element storage (zero strides) that would unpack to terabytes."""
  torch = pytest.importorskip('torch')
  torch.save({'conv_first.weight': torch.zeros(4).as_strided(shape, stride)}, tmp_path / 'big.pth')
  tracemalloc.start()
  try:
    error = load_or_refuse(tmp_path / 'big.pth')
    peak = tracemalloc.get_traced_memory()[1]
  finally:
    tracemalloc.stop()
  assert isinstance(error, ValueError) and 'more elements than its storage' in str(error) and peak < 16 * 2**20


@pytest.fixture(scope='module')
def legacy_pth() -> bytes:
  """The tiny generator as a legacy (torch < 1.6) `.pth`."""
  torch = pytest.importorskip('torch')
  buffer = io.BytesIO()
  module, params = tiny_generator(2)
  tensors = {
    k: torch.from_numpy(np.array(v)) for k, v in generator_state_dicts.generator_to_torch(module, params).items()
  }
  torch.save({'params_ema': tensors}, buffer, _use_new_zipfile_serialization=False)
  return buffer.getvalue()


@FUZZ
@given(data=st.data())
def test_damaged_legacy_pth_loads_or_is_refused(legacy_pth, tmp_path_factory, data):
  path = tmp_path_factory.mktemp('fuzz') / 'legacy.pth'
  path.write_bytes(damaged(legacy_pth, data.draw))
  load_or_refuse(path)
