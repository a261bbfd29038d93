"""Tests for esrgan_jax.srresnet: BasicSR's MSRResNet (SRResNet baseline), with and without SRGAN's BatchNorm."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax.srresnet import MSRResNet

TINY = dict(num_feat=8, num_block=2)


def shapes(module, input_shape=(1, 8, 8, 3)):
  return jax.eval_shape(module.init, jax.random.key(0), jax.ShapeDtypeStruct(input_shape, jnp.float32))


def test_param_count_matches_basicsr():
  assert sum(x.size for x in jax.tree.leaves(shapes(MSRResNet())['params'])) == 1_517_571  # MSRResNet x4, 16 blocks


@pytest.mark.parametrize('scale,upconvs', [(4, {'upconv1': 256, 'upconv2': 256}), (3, {'upconv1': 576}),
                                           (2, {'upconv1': 256})])
def test_upsampling_convs_per_scale(scale, upconvs):
  params = shapes(MSRResNet(scale=scale))['params']
  assert {name: p['kernel'].shape[-1] for name, p in params.items() if name.startswith('upconv')} == upconvs


def test_batch_norm_variant_adds_bn_layers_and_stats():
  variables = shapes(MSRResNet(use_bn=True, **TINY))
  assert sorted(variables['params']['body_1']) == ['bn1', 'bn2', 'conv1', 'conv2']
  assert sorted(variables['batch_stats']['body_0']['bn2']) == ['mean', 'var']
  assert 'batch_stats' not in shapes(MSRResNet(**TINY))


@pytest.mark.parametrize('scale', [2, 3, 4])
def test_output_shape_for_odd_sizes(scale):
  net = MSRResNet(scale=scale, **TINY)
  x = jnp.ones((2, 5, 7, 3))
  params = net.init(jax.random.key(0), x)['params']
  assert net.apply({'params': params}, x).shape == (2, 5 * scale, 7 * scale, 3)


def test_init_is_scaled_kaiming_with_zero_bias():
  params = MSRResNet(num_block=1).init(jax.random.key(0), jnp.zeros((1, 4, 4, 3)))['params']
  for name in ('conv_first', 'upconv2', 'conv_hr', 'conv_last'):
    np.testing.assert_array_equal(params[name]['bias'], 0)
  kernel = params['body_0']['conv1']['kernel']  # fan_in = 9 * 64
  np.testing.assert_allclose(float(kernel.std()), 0.1 * np.sqrt(2 / (9 * 64)), rtol=0.05)


def test_rejects_bad_scale_and_channels():
  with pytest.raises(ValueError, match=r'scale must be one of \(2, 3, 4\), got 8'):
    MSRResNet(scale=8, **TINY).init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))
  with pytest.raises(ValueError, match='3 channels'):
    MSRResNet(**TINY).init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
  with pytest.raises(ValueError, match=r'num_out_ch \(1\) must equal num_in_ch \(3\)'):
    MSRResNet(num_out_ch=1, **TINY).init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))
