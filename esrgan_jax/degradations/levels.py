"""Rounding a degraded image to 8-bit levels as Real-ESRGAN's torch code does: `(x * 255).round()` clipped to
0..255, ties to even (torch.round), unlike the half-up of MATLAB's uint8 that `esrgan_jax.data.quantize` follows for
the paper's test protocol."""

import jax
import jax.numpy as jnp


def eight_bit_levels(image: jax.Array) -> jax.Array:
  """Image in [0, 1] (values beyond are clipped) -> float levels 0..255, rounded half to even."""
  return jnp.clip(jnp.round(image * 255), 0, 255)
