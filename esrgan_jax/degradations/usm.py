"""Unsharp masking of the GT, as Real-ESRGAN sharpens its targets (BasicSR's USMSharp).

blurred = Gaussian blur (51 x 51, sigma 8: OpenCV's default sigma for that size), residual = x - blurred,
mask = |residual| > threshold / 255 (blurred the same way), out = mask * clip(x + weight * residual) +
(1 - mask) * x. Input and output [H, W, C] in [0, 1], H and W > 25 (reflect padding).
"""

import jax
import jax.numpy as jnp

from esrgan_jax.degradations.kernels import blur, gaussian_kernel

USM_RADIUS = 51  # kernel size
USM_SIGMA = 0.3 * ((USM_RADIUS - 1) * 0.5 - 1) + 0.8  # OpenCV getGaussianKernel's sigma for sigma <= 0: 8.0


def _gaussian_blur(image: jax.Array) -> jax.Array:
  """51 x 51 Gaussian blur with reflect padding; [H, W, C]."""
  return blur(image, gaussian_kernel(USM_SIGMA, USM_SIGMA, 0.0, support=USM_RADIUS, size=USM_RADIUS))


def usm_sharpen(image: jax.Array, weight: float = 0.5, threshold: float = 10.0) -> jax.Array:
  """USM-sharpened [H, W, C] image in [0, 1] (weight 0.5, threshold 10 levels: Real-ESRGAN's)."""
  residual = image - _gaussian_blur(image)
  soft_mask = _gaussian_blur((jnp.abs(residual) * 255 > threshold).astype(image.dtype))
  sharp = jnp.clip(image + weight * residual, 0, 1)
  return soft_mask * sharp + (1 - soft_mask) * image
