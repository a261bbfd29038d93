"""Tests for esrgan_jax.data.quantize: MATLAB's uint8() rounding."""

import numpy as np

from esrgan_jax.data.quantize import quantize


def test_quantize_rounds_half_away_from_zero_and_saturates():
  np.testing.assert_array_equal(quantize(np.array([0.5, 1.5, 2.5, 254.49, -3.0, 300.0])), [1, 2, 3, 254, 0, 255])
