"""JPEG in JAX against Pillow's (libjpeg's) round trip at the same quality, 4:2:0."""

import io

import jax
import numpy as np
import pytest
import skimage.data
from PIL import Image

from esrgan_jax.degradations.jpeg import LUMA_TABLE, dct_matrix, jpeg, quantization_tables

jpeg_jit = jax.jit(jpeg)


def pillow_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, 'JPEG', quality=quality, subsampling=2)  # 2: 4:2:0
  return np.asarray(Image.open(buffer), np.float64)


@pytest.mark.parametrize('quality', [30, 60, 95])
def test_matches_pillow_within_a_level_on_average(quality):
  image = skimage.data.chelsea()[:120, :150]  # sides not multiples of 16
  reference = pillow_roundtrip(image, quality)
  ours = np.asarray(jpeg_jit(image.astype(np.float32) / 255, quality)) * 255
  error = np.abs(ours - reference)
  # Measured (Pillow 13, libjpeg-turbo): mean 0.5-0.7 levels, against 1.5-5.3 levels of JPEG's own distortion.
  assert error.mean() < 0.8, error.mean()
  assert error.mean() < 0.5 * np.abs(reference - image).mean()
  np.testing.assert_allclose(ours, np.round(ours), atol=1e-4)  # 8-bit levels


def test_quality_tables_follow_the_ijg_formula():
  luma, chroma = quantization_tables(50)
  np.testing.assert_array_equal(luma, LUMA_TABLE)
  np.testing.assert_array_equal(quantization_tables(100)[0], np.ones((8, 8)))
  np.testing.assert_array_equal(quantization_tables(75)[0][0, :3], [8, 6, 5])  # floor((t * 50 + 50) / 100)
  assert float(quantization_tables(10)[1].max()) == 255  # clipped to baseline


def test_dct_matrix_is_orthonormal():
  d = dct_matrix()
  np.testing.assert_allclose(d @ d.T, np.eye(8), atol=1e-6)


def test_lower_quality_loses_more():
  image = skimage.data.coffee()[:64, :64].astype(np.float32) / 255
  errors = [float(np.abs(jpeg_jit(image, q) - image).mean()) for q in (20, 50, 90)]
  assert errors[0] > errors[1] > errors[2] > 0
