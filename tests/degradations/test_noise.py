"""Noise statistics: Gaussian sigma, gray sharing, Poisson mean and variance."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax.degradations import noise


def test_gaussian_noise_has_its_sigma_and_gray_shares_channels():
  image = jnp.full((128, 128, 3), 0.5)
  colour = np.asarray(noise.gaussian_noise(jax.random.key(0), image, 10.0, False)) - 0.5
  assert abs(colour.std() * 255 - 10) < 0.3 and abs(colour.mean() * 255) < 0.2
  assert abs(np.corrcoef(colour[..., 0].ravel(), colour[..., 1].ravel())[0, 1]) < 0.05
  gray = np.asarray(noise.gaussian_noise(jax.random.key(0), image, 10.0, True)) - 0.5
  np.testing.assert_array_equal(gray[..., 0], gray[..., 2])
  assert abs(gray.std() * 255 - 10) < 0.3


def test_gaussian_noise_is_clipped():
  out = np.asarray(noise.gaussian_noise(jax.random.key(1), jnp.zeros((32, 32, 3)), 30.0, False))
  assert out.min() == 0 and out.max() <= 1 and (out > 0).mean() > 0.4


@pytest.mark.parametrize('mean', [0.3, 4.0, 12.0, 40.0, 200.0])
def test_poisson_counts_mean_and_variance(mean):
  counts = np.asarray(noise.poisson_counts(jax.random.key(2), jnp.full((200_000,), mean)))
  assert np.all(counts == np.round(counts)) and counts.min() >= 0
  assert abs(counts.mean() - mean) < 4 * np.sqrt(mean / 200_000) + 1e-3
  assert abs(counts.var() / mean - 1) < 0.03


def test_poisson_noise_scales_with_the_photon_count():
  levels = np.tile(np.arange(256, dtype=np.float32), (64, 1))  # 256 distinct levels: v = 256
  image = jnp.asarray(np.repeat(levels[..., None], 3, -1) / 255)
  poisson_noise = jax.jit(noise.poisson_noise)
  out = np.asarray(poisson_noise(jax.random.key(3), image, 1.0, False))
  middle = image[:, 100:156]  # far from clipping: variance x / 256
  residual = out[:, 100:156] - np.asarray(middle)
  np.testing.assert_allclose(residual.var() / np.mean(np.asarray(middle) / 256), 1, atol=0.05)
  gray = np.asarray(poisson_noise(jax.random.key(3), image, 2.0, True))
  np.testing.assert_array_equal(gray[..., 0] - image[..., 0], gray[..., 1] - image[..., 1])


def test_random_noise_is_a_function_of_key_and_draws():
  image = jnp.full((16, 16, 3), 0.4)
  u = jnp.array([0.9, 0.5, 0.5, 0.1])  # colour, Gaussian
  run = jax.jit(noise.random_noise, static_argnums=3)
  a, b = (run(jax.random.key(4), u, image, noise.NoiseOptions()) for _ in range(2))
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, run(jax.random.key(5), u, image, noise.NoiseOptions()))
