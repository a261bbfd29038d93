import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax.models import layers


@pytest.mark.parametrize('factor', [2, 4])
def test_pixel_unshuffle_matches_torch_channel_order(factor):
  torch = pytest.importorskip('torch')
  x = np.random.default_rng(0).normal(size=(2, 8, 12, 3)).astype(np.float32)
  ours = np.asarray(layers.pixel_unshuffle(jnp.asarray(x), factor))
  ref = torch.nn.functional.pixel_unshuffle(torch.from_numpy(x).permute(0, 3, 1, 2), factor).permute(0, 2, 3, 1)
  np.testing.assert_array_equal(ours, ref.numpy())


def test_pixel_unshuffle_order_by_hand():
  x = jnp.arange(16.0).reshape(1, 4, 4, 1)
  # output channel c*s*s + i*s + j holds input pixel (2h + i, 2w + j)
  np.testing.assert_array_equal(layers.pixel_unshuffle(x, 2)[0, 0, 0], [0, 1, 4, 5])
  np.testing.assert_array_equal(layers.pixel_unshuffle(x, 2)[0, 1, 1], [10, 11, 14, 15])


def test_pixel_unshuffle_rejects_indivisible_size():
  with pytest.raises(ValueError, match='divisible by 4'):
    layers.pixel_unshuffle(jnp.zeros((1, 6, 8, 3)), 4)


@pytest.mark.parametrize('factor', [2, 3])
def test_pixel_shuffle_matches_torch_and_inverts_unshuffle(factor):
  torch = pytest.importorskip('torch')
  x = np.random.default_rng(0).normal(size=(2, 4, 5, 2 * factor * factor)).astype(np.float32)
  ours = np.asarray(layers.pixel_shuffle(jnp.asarray(x), factor))
  ref = torch.nn.functional.pixel_shuffle(torch.from_numpy(x).permute(0, 3, 1, 2), factor).permute(0, 2, 3, 1)
  np.testing.assert_array_equal(ours, ref.numpy())
  np.testing.assert_array_equal(layers.pixel_unshuffle(jnp.asarray(ours), factor), x)


def test_pixel_shuffle_rejects_indivisible_channels():
  with pytest.raises(ValueError, match='divisible by 4'):
    layers.pixel_shuffle(jnp.zeros((1, 2, 2, 6)), 2)


def test_upsample_nearest():
  x = jnp.arange(4.0).reshape(1, 2, 2, 1)
  np.testing.assert_array_equal(
    layers.upsample_nearest(x)[0, ..., 0], [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]
  )
  assert layers.upsample_nearest(x, 3).shape == (1, 6, 6, 1)
  np.testing.assert_array_equal(layers.upsample_nearest(x, 3)[0, 2, 3:, 0], [1, 1, 1])


def test_lrelu_slopes():
  x = jnp.array([-1.0, 2.0])
  np.testing.assert_allclose(layers.lrelu(x), [-0.2, 2.0])
  np.testing.assert_allclose(layers.lrelu(x, 0.1), [-0.1, 2.0])


def test_conv_default_init_is_torch_uniform():
  conv = layers.Conv(256)
  params = conv.init(jax.random.key(0), jnp.zeros((1, 4, 4, 64)))['params']
  bound = (64 * 9) ** -0.5
  for leaf in (params['kernel'], params['bias']):
    assert float(jnp.abs(leaf).max()) <= bound
    assert float(jnp.abs(leaf).max()) > 0.95 * bound  # uniform fills the range
  np.testing.assert_allclose(float(params['kernel'].std()), bound / np.sqrt(3), rtol=0.05)


def test_conv_with_kernel_init_has_zero_bias():
  conv = layers.Conv(8, kernel_init=layers.kaiming_normal_init(0.1))
  params = conv.init(jax.random.key(0), jnp.zeros((1, 4, 4, 8)))['params']
  np.testing.assert_array_equal(params['bias'], 0)


def test_dense_init_and_shape():
  dense = layers.Dense(100)
  params = dense.init(jax.random.key(0), jnp.zeros((1, 400)))['params']
  assert params['kernel'].shape == (400, 100)
  assert float(jnp.abs(params['kernel']).max()) <= 400**-0.5
