"""Tests for esrgan_jax.models.fold_batch_norm: a BN generator in eval mode equals its folded BN-free twin."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import random_variables  # unit-gain convs and BN layers far from their init

from esrgan_jax.models.fold_batch_norm import fold_batch_norm
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.models.srresnet import MSRResNet


@pytest.mark.parametrize(
  'net',
  [
    RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, use_bn=True),
    MSRResNet(scale=3, num_feat=8, num_block=2, use_bn=True),
  ],
  ids=lambda net: type(net).__name__,
)
def test_folded_generator_equals_eval_mode_bn_generator(net):
  x = jax.random.uniform(jax.random.key(1), (2, 8, 12, 3))
  variables = random_variables(net, x.shape)
  plain, params = fold_batch_norm(net, variables)
  assert plain == net.clone(use_bn=False)
  expected = jax.eval_shape(plain.init, jax.random.key(0), x)['params']
  assert jax.tree.structure(params) == jax.tree.structure(expected)
  layout = lambda tree: [(leaf.shape, leaf.dtype) for leaf in jax.tree.leaves(tree)]
  assert layout(params) == layout(expected)
  reference = net.apply(variables, x, train=False)
  assert float(jnp.abs(reference).max()) > 0.1
  np.testing.assert_allclose(plain.apply({'params': params}, x), reference, rtol=0, atol=1e-5)
  unfolded = plain.apply({'params': variables['params']}, x)  # the same convs with the BN layers dropped
  assert float(jnp.abs(unfolded - reference).max()) > 1e-2  # so the statistics matter


def test_keeps_the_compute_dtype():
  net = MSRResNet(num_feat=8, num_block=1, use_bn=True, dtype=jnp.bfloat16)
  variables = random_variables(net, (1, 4, 4, 3))
  plain, params = fold_batch_norm(net, variables)
  assert plain.dtype == jnp.bfloat16 and all(p.dtype == np.float32 for p in jax.tree.leaves(params))


def test_module_without_bn_is_returned_as_is():
  net = MSRResNet(num_feat=8, num_block=1)
  variables = net.init(jax.random.key(0), jnp.zeros((1, 4, 4, 3)))
  plain, params = fold_batch_norm(net, variables)
  assert plain is net and params is variables['params']


def test_missing_batch_stats_or_conv_is_an_error():
  net = MSRResNet(num_feat=8, num_block=1, use_bn=True)
  variables = net.init(jax.random.key(0), jnp.zeros((1, 4, 4, 3)))
  with pytest.raises(ValueError, match='needs variables\\["batch_stats"\\]'):
    fold_batch_norm(net, {'params': variables['params']})
  params = {**variables['params'], 'body_0': {k: v for k, v in variables['params']['body_0'].items() if k != 'conv2'}}
  with pytest.raises(ValueError, match='Cannot fold body_0/bn2: no body_0/conv2 before it'):
    fold_batch_norm(net, {**variables, 'params': params})
