"""Tests for esrgan_jax.degradations.levels: 8-bit levels as torch's `(x * 255).round()` gives them."""

import jax.numpy as jnp
import numpy as np

from esrgan_jax.degradations.levels import eight_bit_levels


def test_ties_round_to_even_and_values_are_clipped():
  ties = np.float32((np.arange(6) + 0.5) / 255)
  assert (ties * np.float32(255) == np.arange(6) + 0.5).all()  # exact ties in float32
  np.testing.assert_array_equal(eight_bit_levels(jnp.asarray(ties)), [0, 2, 2, 4, 4, 6])
  np.testing.assert_array_equal(eight_bit_levels(jnp.asarray([-0.2, 0.0, 1.0, 1.3], jnp.float32)), [0, 0, 255, 255])


def test_matches_float32_round_half_to_even_on_random_values():
  x = np.random.default_rng(0).uniform(-0.1, 1.1, 10_000).astype(np.float32)
  x[:6] = (np.arange(6) + 0.5) / 255
  expected = np.clip(np.round(x * np.float32(255)), 0, 255)  # numpy rounds ties to even, as torch.round
  np.testing.assert_array_equal(eight_bit_levels(jnp.asarray(x)), expected)
