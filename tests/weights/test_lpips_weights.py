"""Tests for esrgan_jax.weights.lpips_weights and `convert lpips`, without torch: key mapping, locations, errors."""

import numpy as np
import pytest
from helpers import TORCHVISION_CONVS, lpips_official_states, run_convert

from esrgan_jax import convert
from esrgan_jax.weights import lpips_weights, model_io, torch_io


@pytest.mark.parametrize('net', ['alex', 'vgg'])
def test_every_tensor_lands_in_its_layer(net):
  backbone, linear = lpips_official_states(net)
  params = lpips_weights.lpips_from_torch(net, backbone, linear)
  convs = sorted(params['backbone'], key=lambda name: [int(x) for x in name.removeprefix('conv').split('_')])
  assert len(convs) == len(TORCHVISION_CONVS[net])
  for name, index in zip(convs, TORCHVISION_CONVS[net]):
    np.testing.assert_array_equal(
      params['backbone'][name]['kernel'], backbone[f'features.{index}.weight'].transpose(2, 3, 1, 0)
    )
    np.testing.assert_array_equal(params['backbone'][name]['bias'], backbone[f'features.{index}.bias'])
  for k in range(5):
    np.testing.assert_array_equal(params[f'lin{k}']['kernel'].ravel(), linear[f'lin{k}.model.1.weight'].ravel())


def test_swapped_or_mismatched_files_are_named(tmp_path, capsys):
  backbone, linear = lpips_official_states('alex')
  with pytest.raises(ValueError, match='no features.N keys'):
    lpips_weights.lpips_from_torch('alex', linear, backbone)
  with pytest.raises(ValueError, match='only lin0.model.1.weight'):
    lpips_weights.lpips_from_torch('alex', backbone, backbone)
  vgg_backbone, vgg_linear = lpips_official_states('vgg')
  with pytest.raises(ValueError, match='Check --net') as error:
    lpips_weights.lpips_from_torch('alex', vgg_backbone, vgg_linear)
  assert 'missing keys (6): features.3.bias, features.3.weight' in str(error.value)
  assert 'features.0.weight has shape (64, 3, 3, 3), expected (64, 3, 11, 11)' in str(error.value)
  torch_io.save_state_dict(tmp_path / 'vgg16.pth', vgg_backbone)
  torch_io.save_state_dict(tmp_path / 'alex.pth', linear)
  argv = ['lpips', '--net', 'alex', '--backbone', str(tmp_path / 'vgg16.pth'), '--linear', str(tmp_path / 'alex.pth')]
  assert convert.main([*argv, str(tmp_path / 'out.msgpack')]) == 2
  assert 'Cannot convert the LPIPS weights: The state dict does not fit LPIPS (alex)' in capsys.readouterr().err
  with pytest.raises(ValueError, match="Unknown LPIPS backbone 'squeeze'"):
    lpips_weights.files('squeeze')


def test_cli_writes_the_default_location_and_load_finds_it(tmp_path, monkeypatch, capsys):
  monkeypatch.setenv('ESRGAN_JAX_WEIGHTS', str(tmp_path / 'weights'))
  with pytest.raises(FileNotFoundError, match='python -m esrgan_jax.convert lpips --net alex') as error:
    lpips_weights.load_lpips('alex')
  default = tmp_path / 'weights' / 'lpips_alex.msgpack'
  command = str(error.value).split('python -m esrgan_jax.convert ')[1].split()
  assert command == [
    'lpips',
    '--net',
    'alex',
    '--backbone',
    'alexnet-owt-7be5be79.pth',
    '--linear',
    'alex.pth',
    str(default),
  ]
  backbone, linear = lpips_official_states('alex')
  torch_io.save_state_dict(tmp_path / 'alexnet-owt-7be5be79.pth', backbone)
  torch_io.save_state_dict(tmp_path / 'alex.pth', linear)
  run_convert('lpips', '--backbone', tmp_path / 'alexnet-owt-7be5be79.pth', '--linear', tmp_path / 'alex.pth')
  assert f'LPIPS (alex) params (2,470,848); wrote {default}' in capsys.readouterr().out
  module, params = lpips_weights.load_lpips('alex')
  assert module.net == 'alex' and model_io.load_model(default)[:2] == ('LPIPS', {'net': 'alex'})
  np.testing.assert_array_equal(params['lin2']['kernel'].ravel(), linear['lin2.model.1.weight'].ravel())
  with pytest.raises(FileNotFoundError, match='or --net vgg'):
    lpips_weights.load_lpips(tmp_path / 'nowhere.msgpack')
  model_io.save_model(tmp_path / 'vgg19.msgpack', 'MINCNet', {}, {'params': {}})
  with pytest.raises(ValueError, match='holds a MINCNet, not LPIPS'):
    lpips_weights.load_lpips(tmp_path / 'vgg19.msgpack')
