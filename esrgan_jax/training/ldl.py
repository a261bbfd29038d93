"""LDL, the artifact loss of Liang, Zeng, Zhang, "Details or Artifacts: A Locally Discriminative Learning Approach to
Realistic Image Super-Resolution" (CVPR 2022), as its official code defines it. Images NHWC in [0, 1].

The residual r = sum over channels of |GT - SR| ([B, H, W, 1]). Each pixel's weight is the unbiased variance of r in
the 7x7 window around it (reflect padding; Eq. 4), scaled by the patch's weight, the unbiased variance of r over the
whole image to the power 1/5 (Eq. 5); the map is set to 0 wherever the current generator's residual is smaller
than the EMA generator's (Eq. 6-7: artifacts are where G is worse than its stable average). The loss is the L1
between map * SR and map * GT. The EMA output is a constant; the map is not detached (gradients reach G through it
too, as in the official code).
"""

import jax
import jax.numpy as jnp

from esrgan_jax.training.losses import l1_loss

WINDOW = 7  # the local window of the pixel weights (the official code's ksize)
PATCH_EXPONENT = 1 / 5


def residual(gt: jax.Array, x: jax.Array) -> jax.Array:
  """[B, H, W, 3] pair -> sum over channels of |gt - x|, [B, H, W, 1] float32."""
  return jnp.sum(jnp.abs(gt.astype(jnp.float32) - x.astype(jnp.float32)), axis=-1, keepdims=True)


def local_variance(r: jax.Array, window: int = WINDOW) -> jax.Array:
  """Unbiased variance of `r` [B, H, W, 1] in the window x window neighbourhood of each pixel, reflect-padded."""
  pad = (window - 1) // 2
  padded = jnp.pad(r, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='reflect')
  box_sum = lambda x: jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, window, window, 1), (1, 1, 1, 1), 'VALID')
  n = window * window
  mean = box_sum(padded) / n
  return (box_sum(padded**2) - n * mean**2) / (n - 1)


def artifact_map(gt: jax.Array, sr: jax.Array, sr_ema: jax.Array) -> jax.Array:
  """The refined artifact map M [B, H, W, 1] of `sr` (the trained generator's output) against `gt`, zero where
  `sr_ema` (the EMA generator's output on the same input) is farther from `gt`."""
  r, r_ema = residual(gt, sr), residual(gt, jax.lax.stop_gradient(sr_ema))
  patch_weight = jnp.var(r, axis=(1, 2, 3), ddof=1, keepdims=True) ** PATCH_EXPONENT
  return jnp.where(r < r_ema, 0.0, patch_weight * local_variance(r))


def ldl_loss(gt: jax.Array, sr: jax.Array, sr_ema: jax.Array) -> jax.Array:
  """L1(M * sr, M * gt) with M = `artifact_map(gt, sr, sr_ema)`: a float32 scalar, unweighted."""
  weight = artifact_map(gt, sr, sr_ema)
  return l1_loss(weight * sr.astype(jnp.float32), weight * gt.astype(jnp.float32))
