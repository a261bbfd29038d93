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


def test_upsample_nearest2x():
  x = jnp.arange(4.0).reshape(1, 2, 2, 1)
  np.testing.assert_array_equal(
    layers.upsample_nearest2x(x)[0, ..., 0], [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]
  )


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


@pytest.mark.parametrize('split', [0, 5, 16])
def test_conv_split_input_is_the_same_conv(split):
  """Splitting the input channels into two convs whose outputs are summed changes neither params nor the result."""
  x = jax.random.uniform(jax.random.key(0), (2, 9, 7, 24))
  plain = layers.Conv(6)
  params = plain.init(jax.random.key(1), x)
  split_conv = layers.Conv(6, split_input_at=split)
  assert jax.tree.map(jnp.shape, split_conv.init(jax.random.key(1), x)) == jax.tree.map(jnp.shape, params)
  np.testing.assert_allclose(split_conv.apply(params, x), plain.apply(params, x), rtol=1e-5, atol=1e-6)
  hlo = jax.jit(split_conv.apply).lower(params, x).as_text()
  assert hlo.count('convolution(') == (2 if split else 1)
