"""Tests for esrgan_jax.inference.metrics: PSNR/SSIM values, Y conversion, input conventions and cropping."""

import numpy as np
import pytest
from skimage import data

from esrgan_jax.data import quantize
from esrgan_jax.data.imresize import imresize
from esrgan_jax.inference import metrics


def _random_uint8(shape, seed):
  return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_rgb_to_y_matches_bt601_formula_and_range():
  rgb = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.2, 0.5, 0.9]])
  expected = [16.0, 235.0, 16.0 + 65.481, 16.0 + 65.481 * 0.2 + 128.553 * 0.5 + 24.966 * 0.9]
  np.testing.assert_allclose(metrics.rgb_to_y(rgb), expected, rtol=0, atol=1e-12)


def test_rgb_to_y_rejects_non_rgb():
  with pytest.raises(ValueError, match='3 channels'):
    metrics.rgb_to_y(np.zeros((4, 4, 4)))


def test_psnr_of_known_rgb_mse():
  a = np.full((8, 8, 3), 100, np.uint8)
  b = a + 5  # MSE = 25 on every channel
  assert metrics.psnr(a, b, crop_border=0, test_y_channel=False) == pytest.approx(10 * np.log10(255**2 / 25))


def test_psnr_on_y_uses_luma_difference():
  a = np.zeros((6, 6, 3), np.uint8)
  b = a.copy()
  b[..., 1] = 10  # only green differs: Y differs by 128.553 * 10 / 255 everywhere
  dy = 128.553 * 10 / 255
  assert metrics.psnr(a, b, crop_border=0) == pytest.approx(10 * np.log10(255**2 / dy**2), rel=1e-12)


def test_psnr_accepts_float_in_unit_range_like_uint8():
  a, b = _random_uint8((10, 12, 3), 0), _random_uint8((10, 12, 3), 1)
  for y in (True, False):
    assert metrics.psnr(a / 255.0, b / 255.0, 2, y) == pytest.approx(metrics.psnr(a, b, 2, y), rel=1e-12)


def test_psnr_identical_is_inf():
  a = _random_uint8((5, 5, 3), 2)
  assert metrics.psnr(a, a, crop_border=1) == float('inf')


def test_crop_border_removes_that_many_pixels_on_each_side():
  a = np.full((10, 10, 3), 50, np.uint8)
  b = a.copy()
  b[:2], b[-2:], b[:, :2], b[:, -2:] = 0, 0, 0, 0  # differences only in a 2-pixel frame
  b[4, 4] = 60  # one differing pixel inside: MSE over the 6x6 crop = 100 / 36 per channel
  assert metrics.psnr(a, b, crop_border=2, test_y_channel=False) == pytest.approx(10 * np.log10(255**2 * 36 / 100))
  assert metrics.psnr(a, b, crop_border=1, test_y_channel=False) < metrics.psnr(a, b, 2, test_y_channel=False)


def test_gray_counts_as_rgb_with_equal_channels():
  a, b = _random_uint8((16, 16), 3), _random_uint8((16, 16), 4)
  a3, b3 = np.repeat(a[..., None], 3, -1), np.repeat(b[..., None], 3, -1)
  for y in (True, False):
    assert metrics.psnr(a, b, 1, y) == pytest.approx(metrics.psnr(a3, b3, 1, y), rel=1e-12)
    assert metrics.psnr(a[..., None], b, 1, y) == pytest.approx(metrics.psnr(a3, b3, 1, y), rel=1e-12)
    assert metrics.ssim(a, b, 1, y) == pytest.approx(metrics.ssim(a3, b3, 1, y), rel=1e-12)


@pytest.mark.parametrize(
  'bad, match',
  [
    (np.zeros((4, 4, 3), np.float32) + 2.0, r'\[0, 1\]'),
    (np.zeros((4, 4, 3), np.uint16), 'dtype'),
    (np.zeros((4, 4, 4), np.uint8), 'shape'),
  ],
)
def test_bad_inputs_raise_clear_errors(bad, match):
  with pytest.raises(ValueError, match=match):
    metrics.psnr(bad, bad, 0)


def test_shape_mismatch_and_oversized_crop_raise():
  with pytest.raises(ValueError, match='differ in shape'):
    metrics.psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8), 0)
  with pytest.raises(ValueError, match='crop_border'):
    metrics.psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8), 2)


def test_ssim_identical_is_one():
  a = _random_uint8((20, 24, 3), 5)
  assert metrics.ssim(a, a, crop_border=2) == pytest.approx(1.0, abs=1e-12)


def test_ssim_of_constant_images_is_luminance_term():
  a, b = np.full((15, 15), 80, np.uint8), np.full((15, 15), 120, np.uint8)
  c1 = (0.01 * 255) ** 2
  expected = (2 * 80 * 120 + c1) / (80**2 + 120**2 + c1)  # variances and covariance are 0
  assert metrics.ssim(a, b, crop_border=0, test_y_channel=False) == pytest.approx(expected, rel=1e-10)


def _matlab_ssim(a: np.ndarray, b: np.ndarray) -> float:
  """Mean SSIM of HW float64 images on the 0-255 scale as MATLAB's `ssim_index.m` computes it (and metrics.ssim did
  before it called skimage): `filter2` with the 11x11 Gaussian (sigma 1.5) over the 'valid' region."""
  x = np.arange(11) - 5.0
  g = np.exp(-(x**2) / (2 * 1.5**2))
  g /= g.sum()

  def valid(image):
    rows = np.lib.stride_tricks.sliding_window_view(image, 11, axis=0) @ g
    return np.lib.stride_tricks.sliding_window_view(rows, 11, axis=1) @ g

  c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
  mu_a, mu_b = valid(a), valid(b)
  var_a, var_b, cov = valid(a * a) - mu_a**2, valid(b * b) - mu_b**2, valid(a * b) - mu_a * mu_b
  ssim_map = (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
  return float(ssim_map.mean())


def _noisy_pair(shape, seed):
  a = _random_uint8(shape, seed)
  b = np.clip(a.astype(int) + np.random.default_rng(seed + 1).integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
  return a, b


@pytest.mark.parametrize('crop_border', [0, 3])
def test_ssim_rgb_is_matlabs_on_the_valid_region(crop_border):
  a, b = _noisy_pair((40, 33, 3), 6)
  c = slice(crop_border, a.shape[0] - crop_border), slice(crop_border, a.shape[1] - crop_border)
  reference = np.mean(
    [_matlab_ssim(a[c][..., k].astype(np.float64), b[c][..., k].astype(np.float64)) for k in range(3)]
  )
  assert metrics.ssim(a, b, crop_border, test_y_channel=False) == pytest.approx(reference, rel=0, abs=1e-10)


def test_ssim_y_is_matlabs_on_luma():
  a, b = _noisy_pair((30, 30, 3), 8)
  ya, yb = metrics.rgb_to_y(a[4:-4, 4:-4] / 255.0), metrics.rgb_to_y(b[4:-4, 4:-4] / 255.0)
  assert metrics.ssim(a, b, crop_border=4) == pytest.approx(_matlab_ssim(ya, yb), rel=0, abs=1e-10)


def test_ssim_of_a_photo_is_matlabs():
  """A photograph and its bicubic x4 round trip (SSIM near the paper's figures, far from 0 and 1) at 1e-10."""
  hr = data.astronaut()[:128, 128:256]
  sr = quantize.to_uint8(imresize(imresize(hr / 255.0, 0.25), 4.0))
  ya, yb = metrics.rgb_to_y(hr[4:-4, 4:-4] / 255.0), metrics.rgb_to_y(sr[4:-4, 4:-4] / 255.0)
  expected = _matlab_ssim(ya, yb)
  assert 0.5 < expected < 0.95
  assert metrics.ssim(sr, hr, crop_border=4) == pytest.approx(expected, rel=0, abs=1e-10)


def test_ssim_needs_a_valid_region():
  with pytest.raises(ValueError, match='11x11'):
    metrics.ssim(np.zeros((12, 12), np.uint8), np.zeros((12, 12), np.uint8), crop_border=1)
