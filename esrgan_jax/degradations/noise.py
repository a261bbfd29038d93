"""Additive Gaussian and Poisson (shot) noise on [H, W, 3] images in [0, 1], colour or gray, as Real-ESRGAN.

Gaussian: N(0, sigma / 255) per pixel and channel, or one draw per pixel shared by the channels (gray).
Poisson: the image is rounded to 8-bit levels (half to even, as torch: `levels`) and counted in
v = 2^ceil(log2(number of distinct levels)) photons per unit; the noise is Poisson(x v) / v - x, times `scale`. Counts
are drawn exactly (inverse CDF) for means below 16 and as rounded N(mean, mean) above: `jax.random.poisson` was ~20x
slower on CPU. Gray noise uses the luma 0.2989 R + 0.587 G + 0.114 B. Both return the noisy image clipped to [0, 1].
"""

import dataclasses

import jax
import jax.numpy as jnp

from esrgan_jax.degradations.kernels import scaled
from esrgan_jax.degradations.levels import eight_bit_levels

LUMA_WEIGHTS = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale, used by Real-ESRGAN's gray Poisson noise


@dataclasses.dataclass(frozen=True)
class NoiseOptions:
  """One round's noise settings (defaults: Real-ESRGAN x4plus, first round): Gaussian with probability
  gaussian_prob and sigma in sigma_range (8-bit levels), else Poisson with scale in poisson_scale_range; gray with
  probability gray_prob."""

  gaussian_prob: float = 0.5
  sigma_range: tuple[float, float] = (1.0, 30.0)
  poisson_scale_range: tuple[float, float] = (0.05, 3.0)
  gray_prob: float = 0.4


def gaussian_noise(key, image: jax.Array, sigma, gray) -> jax.Array:
  """image [H, W, C] plus N(0, (sigma / 255)^2) noise, shared across channels where `gray`; clipped to [0, 1]."""
  normal = jax.random.normal(key, image.shape[:2] + (image.shape[2] + 1,))  # C colour draws and a shared one
  return jnp.clip(image + jnp.where(gray, normal[..., -1:], normal[..., :-1]) * sigma / 255, 0, 1)


POISSON_EXACT_BELOW = 16.0  # means from here on are drawn from the normal approximation
_POISSON_CDF_TERMS = 40  # P(X >= 40) < 1e-6 for means below 16


def poisson_counts(key, mean: jax.Array) -> jax.Array:
  """Poisson draws (float) of elementwise `mean` >= 0: inverse CDF below POISSON_EXACT_BELOW, else
  floor(mean + sqrt(mean) z + 1/2) clipped at 0."""
  u, z = jax.random.uniform(key, (2, *mean.shape))
  z = jnp.sqrt(2.0) * jax.scipy.special.erfinv(2 * jnp.clip(z, 1e-7, 1 - 1e-7) - 1)  # standard normal
  small = jnp.minimum(mean, POISSON_EXACT_BELOW)

  def step(k, carry):  # counts the CDF values below u
    count, probability, cdf = carry
    probability = probability * small / k
    return count + (u > cdf), probability, cdf + probability

  first = jnp.exp(-small)
  count, _, _ = jax.lax.fori_loop(1, _POISSON_CDF_TERMS, step, (jnp.zeros_like(mean), first, first))
  normal = jnp.floor(mean + jnp.sqrt(mean) * z + 0.5)
  return jnp.where(mean < POISSON_EXACT_BELOW, count, jnp.maximum(normal, 0))


def _photons(levels: jax.Array) -> jax.Array:
  """2^ceil(log2(number of distinct 8-bit levels)) of an image of levels."""
  distinct = jnp.sum(jnp.bincount(levels.astype(jnp.int32).ravel(), length=256) > 0)
  return 2.0 ** jnp.ceil(jnp.log2(distinct.astype(jnp.float32)))


def poisson_noise(key, image: jax.Array, scale, gray) -> jax.Array:
  """image [H, W, 3] plus `scale` times Poisson noise of the image (or of its luma, where `gray`); clipped.

  Noise: Poisson(x v) / v - x on the 8-bit rounded image x (or luma), v from its number of distinct levels."""
  colour = eight_bit_levels(image)
  luma = eight_bit_levels(jnp.sum(image * jnp.array(LUMA_WEIGHTS), axis=-1, keepdims=True))
  photons = jnp.concatenate([jnp.broadcast_to(_photons(colour), (3,)), _photons(luma)[None]])
  rounded = jnp.concatenate([colour, luma], axis=-1) / 255  # colour and luma in one draw: [H, W, 4]
  noise = poisson_counts(key, rounded * photons) / photons - rounded
  return jnp.clip(image + jnp.where(gray, noise[..., 3:], noise[..., :3]) * scale, 0, 1)


NOISE_DRAWS = 4
NOISE_TYPE_DRAW = 3  # the one of the NOISE_DRAWS uniforms that picks Gaussian or Poisson (BasicSR: once per batch)


def random_noise(key, u: jax.Array, image: jax.Array, options: NoiseOptions) -> jax.Array:
  """Gaussian or Poisson noise of random strength, colour or gray, per options; its choices from uniforms u
  [NOISE_DRAWS], its pixels from `key`."""
  gray = u[0] < options.gray_prob
  gaussian_key, poisson_key = jax.random.split(key)
  return jnp.where(
    u[NOISE_TYPE_DRAW] < options.gaussian_prob,
    gaussian_noise(gaussian_key, image, scaled(u[1], *options.sigma_range), gray),
    poisson_noise(poisson_key, image, scaled(u[2], *options.poisson_scale_range), gray),
  )
