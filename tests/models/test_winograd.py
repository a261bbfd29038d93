"""esrgan_jax.models.winograd.conv3x3: Winograd F(2x2, 3x3) computes XLA's 3x3 conv (stride 1, padding 1)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax.models import layers, winograd


def _lax_conv3x3(x, kernel):
  return jax.lax.conv_general_dilated(x, kernel, (1, 1), [(1, 1)] * 2, dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


@pytest.mark.parametrize('shape', [(2, 6, 8, 5), (1, 7, 5, 4), (1, 1, 1, 3), (3, 2, 9, 1)], ids=str)
def test_equals_xla_conv_for_even_and_odd_sizes(shape):
  rng = np.random.default_rng(0)
  x = rng.normal(size=shape).astype(np.float32)
  kernel = rng.normal(size=(3, 3, shape[-1], 7)).astype(np.float32)
  out = np.asarray(jax.jit(winograd.conv3x3)(x, kernel))
  assert out.shape == (*shape[:3], 7)
  np.testing.assert_allclose(out, _lax_conv3x3(x, kernel), rtol=1e-5, atol=1e-5)


def test_each_output_depends_on_its_3x3_neighbourhood_only():
  """A single nonzero input pixel spreads to exactly its 3x3 neighbourhood, the flipped kernel (a correlation)."""
  x = np.zeros((1, 6, 6, 1), np.float32)
  x[0, 2, 3, 0] = 1.0
  kernel = np.arange(1.0, 10.0, dtype=np.float32).reshape(3, 3, 1, 1)
  out = np.asarray(winograd.conv3x3(x, kernel))[0, :, :, 0]
  expected = np.zeros((6, 6), np.float32)
  expected[1:4, 2:5] = kernel[::-1, ::-1, 0, 0]
  np.testing.assert_allclose(out, expected, atol=1e-6)


def test_conv_layer_uses_it_for_3x3_only_with_the_same_params():
  x = jnp.asarray(np.random.default_rng(1).normal(size=(1, 6, 6, 4)).astype(np.float32))
  for kernel_size, padding, calls_dot in ((3, 1, True), (1, 0, False)):
    plain = layers.Conv(5, kernel_size, padding=padding)
    params = plain.init(jax.random.key(0), x)
    fast = plain.clone(winograd=True)
    np.testing.assert_allclose(fast.apply(params, x), plain.apply(params, x), rtol=1e-5, atol=1e-5)
    hlo = jax.jit(fast.apply).lower(params, x).as_text()
    assert ('dot_general' in hlo) == calls_dot and ('convolution' in hlo) != calls_dot
