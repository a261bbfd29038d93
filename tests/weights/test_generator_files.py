"""Tests for esrgan_jax.weights.generator_files: one loader for our model files and official .pth state dicts."""

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_equal, random_params, tiny_generator

from esrgan_jax.models.srresnet import MSRResNet
from esrgan_jax.weights import generator_files, generator_state_dicts, model_io, torch_io


@pytest.mark.parametrize('name', ['net.pth', 'net_g_5000.pt', 'RealESRGAN_x2.weights'])
def test_pth_is_converted_in_memory(tmp_path, name):
  module, params = tiny_generator(2)
  torch_io.save_state_dict(tmp_path / name, {'params_ema': generator_state_dicts.generator_to_torch(module, params)})
  loaded, loaded_params = generator_files.load_generator_file(tmp_path / name, dtype=jnp.bfloat16)
  assert loaded == module.clone(dtype=jnp.bfloat16)
  assert_trees_equal(loaded_params, params)
  assert 'RRDBNet(scale 2, 1 blocks' in generator_files.describe_file(tmp_path / name, loaded)
  assert 'PyTorch' in generator_files.describe_file(tmp_path / name, loaded)


def test_our_model_file_loads_as_before(tmp_path):
  module = MSRResNet(scale=3, num_feat=8, num_block=1)
  params = random_params(module)
  model_io.save_generator(tmp_path / 'srresnet.msgpack', module, params)
  loaded, loaded_params = generator_files.load_generator_file(tmp_path / 'srresnet.msgpack')
  assert loaded == module
  assert_trees_equal(loaded_params, params)
  assert 'esrgan_jax model file' in generator_files.describe_file(tmp_path / 'srresnet.msgpack', loaded)


def test_bad_files_say_what_is_wrong(tmp_path):
  with pytest.raises(FileNotFoundError):
    generator_files.load_generator_file(tmp_path / 'missing.msgpack')
  (tmp_path / 'noise.bin').write_bytes(b'\x00not a model')
  with pytest.raises(ValueError, match='not an esrgan_jax model file'):
    generator_files.load_generator_file(tmp_path / 'noise.bin')
  torch_io.save_state_dict(tmp_path / 'other.pth', {'fc.weight': np.zeros((2, 2), np.float32)})
  with pytest.raises(ValueError, match='(?s)other.pth: Unknown architecture: .*fc.weight.*Supported generator'):
    generator_files.load_generator_file(tmp_path / 'other.pth')
