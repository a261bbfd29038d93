"""Tests for esrgan_jax.models.srresnet: BasicSR's MSRResNet (SRResNet baseline), with and without SRGAN's BatchNorm."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax.models.fold_batch_norm import fold_batch_norm
from esrgan_jax.models.srresnet import MSRResNet
from esrgan_jax.weights import generator_state_dicts, torch_layout

torch = pytest.importorskip('torch')
from helpers import assert_close, assert_running_stats_match_torch, images, randomise_batch_norms, seeded, torch_apply  # noqa: E402  (torch)
from torch_archs import TorchMSRResNet  # noqa: E402  (needs torch)

TINY = dict(num_feat=8, num_block=2)


def shapes(module, input_shape=(1, 8, 8, 3)):
  return jax.eval_shape(module.init, jax.random.key(0), jax.ShapeDtypeStruct(input_shape, jnp.float32))


def test_param_count_matches_basicsr():
  assert sum(p.numel() for p in TorchMSRResNet().parameters()) == 1_517_571  # BasicSR's MSRResNet x4, 16 blocks
  assert sum(x.size for x in jax.tree.leaves(shapes(MSRResNet())['params'])) == 1_517_571


@pytest.mark.parametrize(
  'scale,upconvs', [(4, {'upconv1': 256, 'upconv2': 256}), (3, {'upconv1': 576}), (2, {'upconv1': 256})]
)
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


@pytest.mark.parametrize('scale', [2, 3, 4])
def test_parity_with_torch(scale):
  net = seeded(scale, TorchMSRResNet, upscale=scale, **TINY)
  module, params = generator_state_dicts.generator_from_torch({k: v.numpy() for k, v in net.state_dict().items()})
  assert module == MSRResNet(scale=scale, **TINY)
  x = images((2, 7, 9, 3))
  assert_close(module.apply({'params': params}, x), torch_apply(net, x))


def bn_variables(net) -> tuple[MSRResNet, dict]:
  """(MSRResNet with BN, {'params', 'batch_stats'}) of a torch MSRResNet with BN, by the converter's key mapping (the
  converter itself reads BN-free generators only)."""
  module = MSRResNet(num_feat=net.conv_first.out_channels, num_block=len(net.body), scale=net.upscale, use_bn=True)
  shapes = torch_layout.variable_shapes(module, (1, 4, 4, 3))
  keys = torch_layout.torch_keys(list(shapes), generator_state_dicts.torch_module(module, 'BasicSR'))
  state = {k: v.numpy().copy() for k, v in net.state_dict().items()}  # copies: torch updates its buffers in place
  return module, torch_layout.variables_from_torch(
    state, shapes, keys, lambda key: key.endswith('.num_batches_tracked'), 'MSRResNet with BN'
  )


def test_batch_norm_parity_with_torch_in_eval_and_train_mode():
  """Train-mode passes use the batch statistics and move the running ones as torch does (momentum 0.1, unbiased
  variance); the folded generator then computes torch's eval-mode output."""
  net = seeded(0, TorchMSRResNet, upscale=2, use_bn=True, **TINY)
  randomise_batch_norms(net)
  module, variables = bn_variables(net)
  x = images((2, 7, 9, 3))
  assert_close(module.apply(variables, x), torch_apply(net, x))  # running statistics
  stats = variables['batch_stats']
  for step in range(4):
    x = images((2, 7, 9, 3), seed=step)
    out, updates = module.apply({**variables, 'batch_stats': stats}, x, train=True, mutable=['batch_stats'])
    assert_close(out, torch_apply(net.train(), x))  # batch statistics
    stats = updates['batch_stats']
  assert float(np.abs(stats['body_1']['bn2']['mean'] - variables['batch_stats']['body_1']['bn2']['mean']).max()) > 1e-3
  assert_running_stats_match_torch(stats, net)
  plain, params = fold_batch_norm(module, {'params': variables['params'], 'batch_stats': stats})
  assert_close(plain.apply({'params': params}, x), torch_apply(net.eval(), x))
