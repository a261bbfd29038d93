"""Veltkamp-style splitting of float32 values, for exact products without float64 (which jit programs avoid).

`split(v)` = (high, low) with v = high + low exactly and high holding v's top 12 significant bits (the mantissa's
low 12 bits cleared), so low has at most 12 significant bits too: the product of two such halves, or of a half and an
integer below 4096, is exact in float32. Dekker's exact product follows: a * b = sum of the four half products.
"""

import jax
import jax.numpy as jnp
import numpy as np

_HIGH_BITS = 0xFFFFF000  # sign, exponent and the top 11 stored mantissa bits


def split(value: jax.Array | np.ndarray) -> tuple[jax.Array, jax.Array] | tuple[np.ndarray, np.ndarray]:
  """(high, low) of float32 `value` (numpy arrays stay numpy, for constants; anything else becomes traced)."""
  if isinstance(value, np.ndarray):
    high = (value.astype(np.float32).view(np.uint32) & np.uint32(_HIGH_BITS)).view(np.float32)
    return high, value.astype(np.float32) - high
  value = jnp.asarray(value, jnp.float32)
  bits = jax.lax.bitcast_convert_type(value, jnp.uint32) & jnp.uint32(_HIGH_BITS)
  high = jax.lax.bitcast_convert_type(bits, jnp.float32)
  return high, value - high


def product_error(a: jax.Array, b: jax.Array | np.ndarray, rounded: jax.Array) -> jax.Array:
  """a * b - rounded, exactly (Dekker), for rounded = float32(a * b)."""
  (a1, a2), (b1, b2) = split(a), split(b)
  return ((a1 * b1 - rounded) + a1 * b2 + a2 * b1) + a2 * b2
