"""Blur kernels against their closed forms; blur against scipy's correlation with mirror padding."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage
import scipy.special
from helpers import images

from esrgan_jax.degradations import kernels

GRID = np.arange(21) - 10.0


def second_moments(kernel) -> np.ndarray:
  """[[E x^2, E xy], [E xy, E y^2]] of a kernel on the centred grid (x: columns, y: rows)."""
  k = np.asarray(kernel, np.float64)
  x, y = np.meshgrid(GRID, GRID)
  return np.array([[np.sum(k * x * x), np.sum(k * x * y)], [np.sum(k * x * y), np.sum(k * y * y)]])


def covariance(sigma_x, sigma_y, theta) -> np.ndarray:
  rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
  return rotation @ np.diag([sigma_x**2, sigma_y**2]) @ rotation.T


def closed_form(sigma_x, sigma_y, theta, profile) -> np.ndarray:
  x, y = np.meshgrid(GRID, GRID)
  points = np.stack([x, y], -1)
  q = np.einsum('...i,ij,...j->...', points, np.linalg.inv(covariance(sigma_x, sigma_y, theta)), points)
  k = profile(q)
  return k / k.sum()


@pytest.mark.parametrize('sigma_x,sigma_y,theta', [(1.5, 1.5, 0.0), (2.0, 1.0, 0.6), (1.2, 2.5, -2.0)])
def test_gaussian_sums_to_one_is_symmetric_and_has_its_covariance(sigma_x, sigma_y, theta):
  k = np.asarray(kernels.gaussian_kernel(sigma_x, sigma_y, theta))
  assert abs(k.sum() - 1) < 4e-6  # float32: a few ulps per term of the 441-term normalising sum
  np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-7)  # point symmetry
  np.testing.assert_allclose(second_moments(k), covariance(sigma_x, sigma_y, theta), rtol=0, atol=2e-3)
  np.testing.assert_allclose(k, closed_form(sigma_x, sigma_y, theta, lambda q: np.exp(-q / 2)), atol=1e-7)


def test_isotropic_gaussian_is_transpose_symmetric():
  k = np.asarray(kernels.gaussian_kernel(2.0, 2.0, 0.0))
  np.testing.assert_allclose(k, k.T, atol=1e-8)


@pytest.mark.parametrize('beta', [0.5, 2.0, 4.0])
def test_generalized_gaussian_closed_form(beta):
  k = kernels.gaussian_kernel(2.0, 1.2, 0.4, beta)
  np.testing.assert_allclose(k, closed_form(2.0, 1.2, 0.4, lambda q: np.exp(-0.5 * q**beta)), atol=1e-7)


@pytest.mark.parametrize('beta', [1.0, 1.7])
def test_plateau_closed_form(beta):
  k = kernels.plateau_kernel(1.5, 2.5, -1.0, beta)
  np.testing.assert_allclose(k, closed_form(1.5, 2.5, -1.0, lambda q: 1 / (1 + q**beta)), atol=1e-7)
  assert abs(float(k.sum()) - 1) < 1e-6


def test_support_zeroes_outside_and_renormalises():
  k = np.asarray(kernels.gaussian_kernel(3.0, 3.0, 0.0, support=7))
  assert np.all(k[:7] == 0) and np.all(k[:, 14:] == 0) and np.all(k[7:14, 7:14] > 0)
  assert abs(k.sum() - 1) < 4e-6  # float32: a few ulps per term of the 441-term normalising sum


def test_bessel_j1_matches_scipy():
  x = np.linspace(0, 50, 1001, dtype=np.float32)
  np.testing.assert_allclose(kernels.bessel_j1(x), scipy.special.j1(x), atol=3e-7)


def basicsr_circular_lowpass(cutoff: float, support: int) -> np.ndarray:
  """Real-ESRGAN's circular_lowpass_kernel in float64 (scipy's j1), padded to 21 and cast to float32 as BasicSR
  does before filtering."""
  x, y = np.meshgrid(GRID, GRID)
  r = np.hypot(x, y)
  with np.errstate(invalid='ignore', divide='ignore'):
    expected = np.where(r == 0, cutoff**2 / (4 * math.pi), cutoff * scipy.special.j1(cutoff * r) / (2 * math.pi * r))
  half = support // 2
  expected[np.maximum(abs(x), abs(y)) > half] = 0
  return (expected / expected.sum()).astype(np.float32)


# Besides the ends of the ranges, the cutoffs where float32 arithmetic strayed furthest (1.4e-6 and 1.6e-6 off).
@pytest.mark.parametrize(
  'cutoff,support',
  [(math.pi / 3, 21), (2.0, 13), (math.pi, 7), (math.pi / 5, 21), (3.0405564, 15), (3.0658154, 19), (math.pi, 21)],
)
def test_circular_lowpass_equals_basicsr_float64_kernel(cutoff, support):
  cutoff = float(np.float32(cutoff))  # our draws are float32
  ours = jax.jit(kernels.circular_lowpass_kernel, static_argnums=1)(cutoff, support)
  np.testing.assert_allclose(ours, basicsr_circular_lowpass(cutoff, support), rtol=0, atol=1e-6)


def test_categorical_hits_each_index_with_its_probability():
  probs = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
  u = (np.arange(10000) + 0.5) / 10000
  counts = np.bincount(np.asarray(jax.vmap(lambda v: kernels.categorical(v, probs))(u)), minlength=6)
  np.testing.assert_allclose(counts / 10000, probs, atol=1e-4)


def test_random_kernels_are_normalised_and_vary():
  u = jax.random.uniform(jax.random.key(0), (64, kernels.BLUR_KERNEL_DRAWS))
  k = np.asarray(jax.jit(jax.vmap(lambda v: kernels.random_blur_kernel(v, kernels.BlurOptions())))(u))
  np.testing.assert_allclose(k.sum(axis=(1, 2)), 1, atol=1e-5)
  assert np.isfinite(k).all() and len({round(float(v), 6) for v in k[:, 10, 10]}) == 64
  final = np.asarray(jax.vmap(lambda v: kernels.random_final_sinc_kernel(v, 0.8))(u[:, :3]))
  pulses = np.all(final == np.asarray(kernels.pulse_kernel()), axis=(1, 2))
  np.testing.assert_array_equal(pulses, np.asarray(u[:, 1] >= 0.8))


def test_blur_is_correlation_with_mirror_padding():
  image = images((30, 26, 3))
  kernel = np.array(kernels.gaussian_kernel(2.0, 0.8, 0.5))
  kernel[3, 15] += 0.2  # not point-symmetric: correlation and convolution differ
  expected = np.stack([scipy.ndimage.correlate(image[..., c], kernel, mode='mirror') for c in range(3)], -1)
  np.testing.assert_allclose(kernels.blur(jnp.asarray(image), jnp.asarray(kernel)), expected, atol=2e-5)


def test_blur_inside_a_canvas_reflects_about_the_valid_region():
  image = images((30, 26, 3))
  canvas = np.pad(image, ((0, 12), (0, 4), (0, 0)), mode='edge')
  kernel = jnp.asarray(kernels.gaussian_kernel(2.5, 1.5, 0.3))
  alone = np.asarray(kernels.blur(jnp.asarray(image), kernel))
  in_canvas = np.asarray(kernels.blur(jnp.asarray(canvas), kernel, jnp.array([30, 26])))[:30, :26]
  np.testing.assert_allclose(in_canvas, alone, atol=1e-5)
