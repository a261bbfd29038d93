"""Tests for esrgan_jax.weights.safetensors_io and state_dict_files: .safetensors state dicts without torch, checked
against `safetensors.torch`, and reading either format by content."""

import json
import struct

import ml_dtypes
import numpy as np
import pytest

from esrgan_jax.weights import safetensors_io, state_dict_files, torch_io


@pytest.fixture
def torch():
  return pytest.importorskip('torch')


def _state() -> dict:
  rng = np.random.default_rng(0)
  return {
    'conv_first.weight': rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
    'conv_first.bias': rng.standard_normal(4).astype(np.float32),
    'f16': rng.standard_normal((2, 5)).astype(np.float16),
    'f64': rng.standard_normal(3),
    'bn.num_batches_tracked': np.array(17, np.int64),
    'mask': np.array([True, False]),
    'u8': np.arange(6, dtype=np.uint8).reshape(2, 3),
  }


def _assert_states_equal(loaded: dict, expected: dict) -> None:
  assert sorted(loaded) == sorted(expected)
  for key, array in expected.items():
    assert loaded[key].dtype == array.dtype and loaded[key].shape == array.shape, key
    assert loaded[key].flags.c_contiguous
    np.testing.assert_array_equal(loaded[key], array)


def test_round_trip_keeps_every_dtype_and_shape(tmp_path):
  safetensors_io.save_state_dict(tmp_path / 'sd.safetensors', _state())
  _assert_states_equal(safetensors_io.load_state_dict(tmp_path / 'sd.safetensors'), _state())


def test_basicsr_wrapper_prefixes_nest_like_a_pth(tmp_path):
  """`params.`/`params_ema.` keys come back as the nested dict torch_io returns for the same checkpoint."""
  state = {'params': _state(), 'params_ema': {'conv_first.weight': np.ones((2, 1, 3, 3), np.float32)}}
  safetensors_io.save_state_dict(tmp_path / 'sd.safetensors', state)
  torch_io.save_state_dict(tmp_path / 'sd.pth', state)
  from_safetensors = safetensors_io.load_state_dict(tmp_path / 'sd.safetensors')
  from_pth = torch_io.load_state_dict(tmp_path / 'sd.pth')
  assert sorted(from_safetensors) == sorted(from_pth) == ['params', 'params_ema']
  for key in state:
    _assert_states_equal(from_safetensors[key], from_pth[key])


def test_torch_reads_our_file_and_we_read_torchs(torch, tmp_path):
  from safetensors.torch import load_file, save_file

  safetensors_io.save_state_dict(tmp_path / 'ours.safetensors', _state())
  read_by_torch = load_file(tmp_path / 'ours.safetensors')
  _assert_states_equal({k: v.numpy() for k, v in read_by_torch.items()}, _state())
  tensors = {
    'w': torch.randn(3, 2, 3, 3),
    'bf16': torch.randn(5).bfloat16(),
    'i32': torch.tensor([1, -2], dtype=torch.int32),
  }
  save_file(tensors, tmp_path / 'torchs.safetensors')
  loaded = safetensors_io.load_state_dict(tmp_path / 'torchs.safetensors')
  assert loaded['bf16'].dtype == np.float32  # widened, as torch_io does
  for key, tensor in tensors.items():
    np.testing.assert_array_equal(loaded[key], tensor.float().numpy() if key == 'bf16' else tensor.numpy())


def _raw_file(path, header: dict, data: bytes) -> None:
  encoded = json.dumps(header).encode()
  path.write_bytes(struct.pack('<Q', len(encoded)) + encoded + data)


@pytest.mark.parametrize(
  'damage, message',
  [
    (lambda data: data[:-5], 'truncated or corrupt'),
    (lambda data: data[:20], 'truncated or corrupt'),
    (lambda data: data[:3], 'truncated or corrupt'),
    (lambda data: data[:8] + b'[' + data[9:], 'truncated or corrupt.*JSON'),
    (lambda data: struct.pack('<Q', 2**40) + data[8:], 'truncated or corrupt.*header'),
  ],
  ids=['data', 'header', 'length', 'json', 'header-length'],
)
def test_damaged_files_give_one_clear_error(tmp_path, damage, message):
  path = tmp_path / 'sd.safetensors'
  safetensors_io.save_state_dict(path, _state())
  path.write_bytes(damage(path.read_bytes()))
  with pytest.raises(ValueError, match=f'sd.safetensors: {message}') as error:
    safetensors_io.load_state_dict(path)
  assert '\n' not in str(error.value)


def test_offsets_outside_the_data_are_refused(tmp_path):
  _raw_file(tmp_path / 'bad.safetensors', {'w': {'dtype': 'F32', 'shape': [2, 3], 'data_offsets': [0, 24]}}, bytes(8))
  with pytest.raises(ValueError, match='bad.safetensors: truncated or corrupt'):
    safetensors_io.load_state_dict(tmp_path / 'bad.safetensors')


def test_unsupported_dtype_is_named(tmp_path):
  data = np.zeros(4, ml_dtypes.float8_e4m3fn).tobytes()
  _raw_file(tmp_path / 'f8.safetensors', {'w': {'dtype': 'F8_E4M3', 'shape': [4], 'data_offsets': [0, 4]}}, data)
  with pytest.raises(ValueError, match=r"f8.safetensors: tensor 'w' has dtype F8_E4M3.*save the state dict with"):
    safetensors_io.load_state_dict(tmp_path / 'f8.safetensors')


def test_save_refuses_what_safetensors_cannot_hold(tmp_path):
  with pytest.raises(TypeError, match=r'params\.w is dtype object'):
    safetensors_io.save_state_dict(tmp_path / 'x.safetensors', {'params': {'w': np.array([None])}})
  with pytest.raises(TypeError, match='step is a int'):
    safetensors_io.save_state_dict(tmp_path / 'x.safetensors', {'step': 3})


def test_missing_file(tmp_path):
  with pytest.raises(FileNotFoundError, match='nothing.safetensors'):
    safetensors_io.load_state_dict(tmp_path / 'nothing.safetensors')
  with pytest.raises(FileNotFoundError, match=r'nothing.pth'):
    state_dict_files.read_state_dict(tmp_path / 'nothing.pth')


@pytest.mark.parametrize('suffix', ['.safetensors', '.pth', '.bin'])
def test_read_state_dict_tells_the_formats_apart_by_content(tmp_path, suffix):
  state = {'params_ema': _state()}
  safetensors_io.save_state_dict(tmp_path / f'a{suffix}', state)
  torch_io.save_state_dict(tmp_path / f'b{suffix}', state)
  assert state_dict_files.is_safetensors(tmp_path / f'a{suffix}')
  assert not state_dict_files.is_safetensors(tmp_path / f'b{suffix}')
  for name in ('a', 'b'):
    loaded = state_dict_files.read_state_dict(tmp_path / f'{name}{suffix}')
    assert list(loaded) == ['params_ema']
    _assert_states_equal(loaded['params_ema'], state['params_ema'])


def test_read_state_dict_reports_damage_in_the_format_of_the_suffix(tmp_path):
  (tmp_path / 'cut.safetensors').write_bytes(b'\x05\x00')
  with pytest.raises(ValueError, match='cut.safetensors: truncated or corrupt .safetensors'):
    state_dict_files.read_state_dict(tmp_path / 'cut.safetensors')
  (tmp_path / 'cut.pth').write_bytes(b'\x05\x00')
  with pytest.raises(ValueError, match='cut.pth: not a torch checkpoint'):
    state_dict_files.read_state_dict(tmp_path / 'cut.pth')
