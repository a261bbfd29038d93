"""esrgan_jax.models.split_conv: the dense block that computes its 128-input-channel conv as two halves."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax.models import RRDBNet
from esrgan_jax.models.rrdbnet import ResidualDenseBlock
from esrgan_jax.models.split_conv import SplitConvDenseBlock


@pytest.mark.parametrize('block_type', [ResidualDenseBlock, SplitConvDenseBlock])
def test_split_block_runs_the_128_channel_conv_as_two_halves(block_type):
  """The CPU workaround for YNNPACK's single-threaded 128-channel conv: conv3 of a default-width RDB is two convs
  in the split block (same params, same output), one in the plain block."""
  x = jax.random.uniform(jax.random.key(0), (1, 8, 8, 64))
  block = block_type(num_feat=64, num_grow_ch=32)
  params = block.init(jax.random.key(1), x)
  jax.tree.map(np.testing.assert_array_equal, params, ResidualDenseBlock(num_feat=64).init(jax.random.key(1), x))
  hlo = jax.jit(block.apply).lower(params, x).as_text()
  assert hlo.count('convolution(') == (6 if block_type is SplitConvDenseBlock else 5)
  kernel, bias = params['params']['conv3']['kernel'], params['params']['conv3']['bias']
  feats = x
  for j in (1, 2):
    k, b = params['params'][f'conv{j}']['kernel'], params['params'][f'conv{j}']['bias']
    conv = jax.lax.conv_general_dilated(feats, k, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC')) + b
    feats = jnp.concatenate([feats, jax.nn.leaky_relu(conv, 0.2)], -1)
  expected = jax.lax.conv_general_dilated(feats, kernel, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  _, state = block.apply(params, x, capture_intermediates=lambda m, _: m.name == 'conv3', mutable=['intermediates'])
  np.testing.assert_allclose(state['intermediates']['conv3']['__call__'][0], expected + bias, rtol=1e-5, atol=1e-5)


def test_rrdbnet_with_split_blocks_keeps_params_and_output():
  net = RRDBNet(num_block=1)
  x = jax.random.uniform(jax.random.key(1), (1, 8, 8, 3))
  variables = net.init(jax.random.key(0), x)
  split = net.clone(dense_block=SplitConvDenseBlock)
  assert jax.tree.map(jnp.shape, split.init(jax.random.key(0), x)) == jax.tree.map(jnp.shape, variables)
  np.testing.assert_allclose(split.apply(variables, x), net.apply(variables, x), rtol=1e-5, atol=1e-5)
