"""Tests for esrgan_jax.weights.torch_layout: kernel layouts, keys, unwrapping and the errors of a bad state dict."""

import flax.linen as nn
import numpy as np
import pytest

from esrgan_jax.weights import torch_layout


class _ConvDense(nn.Module):
  @nn.compact
  def __call__(self, x):
    x = nn.Conv(4, (3, 2), name='conv')(x)
    return nn.Dense(5, name='fc')(x.reshape(x.shape[0], -1))


def test_kernels_go_oihw_to_hwio_and_back():
  weight = np.arange(4 * 3 * 2 * 5, dtype=np.float64).reshape(4, 3, 2, 5)  # O, I, kh, kw
  kernel = torch_layout.kernel_from_torch(weight)
  assert kernel.shape == (2, 5, 3, 4) and kernel.dtype == np.float32 and kernel.flags.c_contiguous
  assert kernel[1, 4, 2, 3] == weight[3, 2, 1, 4]
  np.testing.assert_array_equal(torch_layout.kernel_to_torch(kernel), weight)
  dense = np.arange(6.0).reshape(2, 3)  # [out, in]
  np.testing.assert_array_equal(torch_layout.kernel_from_torch(dense), dense.T)
  assert torch_layout.kernel_to_torch(dense.T).flags.c_contiguous


def test_variables_round_trip_through_torch_keys():
  module = _ConvDense()
  shapes = torch_layout.variable_shapes(module, (1, 3, 2, 2))
  assert shapes[('params', 'conv', 'kernel')] == (3, 2, 2, 4) and shapes[('params', 'fc', 'kernel')] == (24, 5)
  keys = torch_layout.torch_keys(list(shapes), lambda name: f'net.{name}')
  assert keys['net.conv.weight'] == ('params', 'conv', 'kernel') and keys['net.fc.bias'] == ('params', 'fc', 'bias')
  rng = np.random.default_rng(0)
  variables = {
    'params': {
      name: {
        'kernel': rng.random(shapes[('params', name, 'kernel')]),
        'bias': rng.random(shapes[('params', name, 'bias')]),
      }
      for name in ('conv', 'fc')
    }
  }
  state = torch_layout.variables_to_torch(variables, shapes, keys, 'the test net')
  assert state['net.conv.weight'].shape == (4, 2, 3, 2) and state['net.fc.weight'].shape == (5, 24)
  back = torch_layout.variables_from_torch({**state, 'extra.x': 0}, shapes, keys, lambda k: k == 'extra.x', 'net')
  for name in ('conv', 'fc'):
    for leaf in ('kernel', 'bias'):
      np.testing.assert_array_equal(back['params'][name][leaf], np.float32(variables['params'][name][leaf]))


def test_a_bad_state_dict_is_described_in_one_error():
  shapes = torch_layout.variable_shapes(_ConvDense(), (1, 3, 2, 2))
  keys = torch_layout.torch_keys(list(shapes), torch_layout.same_torch_module)
  state = {'conv.weight': np.zeros((4, 2, 3, 3)), 'fc.weight': 'text', 'fc.bias': np.zeros(5), 'other': np.zeros(1)}
  with pytest.raises(ValueError) as error:
    torch_layout.variables_from_torch(state, shapes, keys, lambda key: False, 'the test net', 'Check the file.')
  assert str(error.value).splitlines() == [
    'The state dict does not fit the test net:',
    '  missing keys (1): conv.bias',
    '  unknown keys (1): other',
    '  wrong shapes (2): conv.weight has shape (4, 2, 3, 3), expected (4, 2, 3, 2), fc.weight is a str, expected a '
    'tensor of shape (5, 24)',
    'Check the file.',
  ]
  with pytest.raises(ValueError, match='differ in presence or shape: params/fc/bias'):
    torch_layout.variables_to_torch({'params': {'conv': {}, 'fc': {}}}, {('params', 'fc', 'bias'): (5,)}, {}, 'net')


def test_unwrap_prefers_params_ema_and_drops_the_dataparallel_prefix():
  ema, plain = {'module.conv.weight': 1}, {'conv.weight': 2}
  assert torch_layout.unwrap({'params': plain, 'params_ema': ema}, None) == {'conv.weight': 1}
  assert torch_layout.unwrap({'params': plain, 'params_ema': ema}, 'params') == plain
  assert torch_layout.unwrap(plain, None) == plain
  with pytest.raises(ValueError, match="No 'params_ema' state dict in the checkpoint; it holds 'params'"):
    torch_layout.unwrap({'params': plain}, 'params_ema')
  with pytest.raises(ValueError, match='keys that are not names'):
    torch_layout.unwrap({0: np.zeros(1)}, None)
  with pytest.raises(ValueError, match='got a list'):
    torch_layout.unwrap([], None)


def test_conv_dim_reads_4d_weights_only():
  state = {'a.weight': np.zeros((8, 3, 3, 3)), 'b.weight': np.zeros(8)}
  assert torch_layout.conv_dim(state, 'a.weight', 1, 0) == 3
  assert torch_layout.conv_dim(state, 'b.weight', 0, 64) == 64 and torch_layout.conv_dim(state, 'c', 0, 7) == 7
