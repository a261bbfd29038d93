"""esrgan_jax.models.winograd: Winograd F(4x4, 3x3) computes XLA's 3x3 conv (stride 1, padding 1), from tiles, and
the Winograd dense block computes what RRDBNet's plain one does."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import random_params

from esrgan_jax.models import RRDBNet, layers, winograd
from esrgan_jax.models.rrdbnet import stack_blocks


def _lax_conv3x3(x, kernel):
  return jax.lax.conv_general_dilated(x, kernel, (1, 1), [(1, 1)] * 2, dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


def _assert_close_to(out, expected):
  """Float32 Winograd rounding: within 1e-5 of the output's scale."""
  np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5 * float(np.abs(expected).max()))


@pytest.mark.parametrize('shape', [(2, 6, 8, 5), (1, 7, 5, 4), (1, 1, 1, 3), (3, 2, 9, 1), (1, 12, 16, 2)], ids=str)
def test_equals_xla_conv_for_all_sizes(shape):
  """Sizes that are multiples of 4 and not, 1x1, one channel."""
  rng = np.random.default_rng(0)
  x = rng.normal(size=shape).astype(np.float32)
  kernel = rng.normal(size=(3, 3, shape[-1], 7)).astype(np.float32)
  out = np.asarray(jax.jit(winograd.conv3x3)(x, kernel))
  assert out.shape == (*shape[:3], 7)
  _assert_close_to(out, _lax_conv3x3(x, kernel))


def test_each_output_depends_on_its_3x3_neighbourhood_only():
  """A single nonzero input pixel spreads to exactly its 3x3 neighbourhood, the flipped kernel (a correlation)."""
  x = np.zeros((1, 8, 8, 1), np.float32)
  x[0, 3, 4, 0] = 1.0  # next to window borders on both axes
  kernel = np.arange(1.0, 10.0, dtype=np.float32).reshape(3, 3, 1, 1)
  out = np.asarray(winograd.conv3x3(x, kernel))[0, :, :, 0]
  expected = np.zeros((8, 8), np.float32)
  expected[2:5, 3:6] = kernel[::-1, ::-1, 0, 0]
  np.testing.assert_allclose(out, expected, atol=1e-5)


def test_tiles_of_a_concatenation_are_the_concatenated_tiles():
  """What lets a dense block transform each feature once."""
  rng = np.random.default_rng(2)
  a, b = (jnp.asarray(rng.normal(size=(2, 7, 9, c)).astype(np.float32)) for c in (3, 2))
  joined = winograd.concatenate([winograd.input_tiles(a), winograd.input_tiles(b)])
  whole = winograd.input_tiles(jnp.concatenate([a, b], axis=-1))
  assert (joined.height, joined.width, joined.channels) == (whole.height, whole.width, whole.channels) == (7, 9, 5)
  assert joined.values.shape == (36, 2 * 2 * 3, 5)  # 36 transform points, N * ceil(7/4) * ceil(9/4) windows
  np.testing.assert_array_equal(joined.values, whole.values)


def test_winograd_conv_takes_tiles_with_the_params_of_conv_for_3x3_convs_only():
  x = jnp.asarray(np.random.default_rng(1).normal(size=(1, 6, 6, 4)).astype(np.float32))
  conv = layers.Conv(5)
  params = conv.init(jax.random.key(0), x)
  tiles = winograd.input_tiles(x)
  fast = winograd.WinogradConv(5)
  jax.tree.map(np.testing.assert_array_equal, fast.init(jax.random.key(0), tiles), params)
  _assert_close_to(np.asarray(fast.apply(params, tiles)), conv.apply(params, x))
  hlo = jax.jit(lambda p, x: fast.apply(p, winograd.input_tiles(x))).lower(params, x).as_text()
  assert 'dot_general' in hlo and 'convolution' not in hlo
  with pytest.raises(ValueError, match='WinogradConv computes 3x3 convs.*got kernel_size 1.*use Conv instead'):
    winograd.WinogradConv(5, 1, padding=0).init(jax.random.key(0), tiles)


def test_winograd_dense_blocks_compute_what_xla_convs_do():
  """`WinogradDenseBlock`: the same params and output (up to rounding), scanned or not; only the RDB convs change
  (the 6 trunk and upsampling convs outside the blocks stay XLA convolutions)."""
  net = RRDBNet(num_feat=8, num_block=2, num_grow_ch=4)
  params = random_params(net)
  x = jax.random.uniform(jax.random.key(1), (2, 8, 6, 3))
  expected = net.apply({'params': params}, x)
  fast = net.clone(dense_block=winograd.WinogradDenseBlock)
  assert jax.tree.map(jnp.shape, fast.init(jax.random.key(0), x)['params']) == jax.tree.map(jnp.shape, params)
  np.testing.assert_allclose(fast.apply({'params': params}, x), expected, rtol=1e-5, atol=1e-5)
  scanned = fast.clone(scan_blocks=True)
  np.testing.assert_allclose(scanned.apply({'params': stack_blocks(params, 2)}, x), expected, rtol=1e-5, atol=1e-5)
  hlo = jax.jit(fast.apply).lower({'params': params}, x).as_text()
  assert hlo.count('convolution(') == 6  # conv_first, conv_body, conv_up1, conv_up2, conv_hr, conv_last
