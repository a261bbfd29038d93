"""Tests for esrgan_jax.data.quantize: MATLAB's uint8() rounding and its inverse scale."""

import numpy as np
import pytest

from esrgan_jax.data.quantize import levels_to_unit, quantize


def test_quantize_rounds_half_away_from_zero_and_saturates():
  np.testing.assert_array_equal(quantize(np.array([0.5, 1.5, 2.5, 254.49, -3.0, 300.0])), [1, 2, 3, 254, 0, 255])


@pytest.mark.parametrize('dtype', [np.uint8, np.uint16])
def test_levels_to_unit_divides_by_the_top_level_and_quantize_rounds_back(dtype):
  top = np.iinfo(dtype).max
  pixels = np.array([[0, 1, top // 2], [top // 3, top - 1, top]], dtype)
  image = levels_to_unit(pixels)
  assert image.dtype == np.float32 and image.shape == pixels.shape and image.min() == 0 and image.max() == 1
  np.testing.assert_array_equal(image, pixels.astype(np.float32) / np.float32(2 ** (8 * pixels.itemsize) - 1))
  np.testing.assert_array_equal(quantize(image * np.float64(top), top), pixels)
