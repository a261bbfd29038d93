"""JPEG as Real-ESRGAN trains with it: BasicSR's `DiffJPEG(differentiable=False)`, in JAX, per-example quality.

Unlike a codec (`jpeg.py`), every step stays in float: RGB -> YCbCr (JFIF matrix, +128 on chroma), chroma averaged
over 2x2 blocks, level shift and orthonormal 8x8 DCT, division by the quantisation tables scaled by the quality
factor (5000 / q below 50, else 200 - 2q, in percent; not floored or clipped), rounding half to even; then the
inverse, chroma repeated 2x2, YCbCr -> RGB, clamped to [0, 255]. The tables are the ITU-T T.81 Annex K ones
transposed, as BasicSR stores them. The image is zero-padded at the bottom and right to a multiple of 16. The
output is not rounded to 8-bit levels.
"""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from esrgan_jax.degradations.jpeg import CHROMA_OFFSET, CHROMA_TABLE, LUMA_TABLE, RGB_TO_YCBCR, YCBCR_TO_RGB

DIFFJPEG_LUMA_TABLE = np.ascontiguousarray(LUMA_TABLE.T)
DIFFJPEG_CHROMA_TABLE = np.ascontiguousarray(CHROMA_TABLE.T)


def _basis() -> tuple[np.ndarray, np.ndarray]:
  """float32 DCT basis [x, y, u, v] = cos((2x + 1) u pi / 16) cos((2y + 1) v pi / 16) and the scale [u, v] that
  makes it orthonormal (alpha_u alpha_v / 4, alpha_0 = 1 / sqrt 2); both rounded from float64 as BasicSR's are."""
  basis = np.zeros((8, 8, 8, 8))
  for x, y, u, v in itertools.product(range(8), repeat=4):
    basis[x, y, u, v] = math.cos((2 * x + 1) * u * math.pi / 16) * math.cos((2 * y + 1) * v * math.pi / 16)
  alpha = np.array([1 / math.sqrt(2)] + [1.0] * 7)
  return basis.astype(np.float32), np.outer(alpha, alpha).astype(np.float32)


def quality_factor(quality: jax.Array) -> jax.Array:
  """BasicSR's quality_to_factor in float32: (5000 / q) / 100 below 50, else (200 - 2q) / 100."""
  quality = jnp.asarray(quality, jnp.float32)
  return jnp.where(quality < 50, 5000 / quality, 200 - quality * 2) / 100


def _blocks(plane: jax.Array) -> jax.Array:
  """[H, W] -> [H/8 * W/8, 8, 8] blocks in row-major order."""
  h, w = plane.shape
  return plane.reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)


def _merge(blocks: jax.Array, hw: tuple[int, int]) -> jax.Array:
  h, w = hw
  return blocks.reshape(h // 8, w // 8, 8, 8).transpose(0, 2, 1, 3).reshape(h, w)


def _roundtrip_plane(plane: jax.Array, table: jax.Array) -> jax.Array:
  """Samples [H, W] (multiples of 8) -> the samples decoded from their rounded, quantised DCT coefficients."""
  basis, alpha = (jnp.asarray(a) for a in _basis())
  hi = jax.lax.Precision.HIGHEST
  coefficients = 0.25 * alpha * jnp.einsum('bxy,xyuv->buv', _blocks(plane) - 128, basis, precision=hi)
  dequantised = jnp.round(coefficients / table) * table
  decoded = 0.25 * jnp.einsum('buv,xyuv->bxy', dequantised * alpha, basis, precision=hi) + 128
  return _merge(decoded, plane.shape)


def diffjpeg(image: jax.Array, quality, valid_hw: jax.Array | None = None) -> jax.Array:
  """DiffJPEG round trip of [H, W, 3] in [0, 1] (clamped first) at `quality` (float, 1..100, may be traced).

  valid_hw: when the image is the top-left [h, w] of a larger canvas, the rest is treated as the zero padding BasicSR
  adds to the [h, w] image, so the valid region comes out as DiffJPEG's on the image alone. Returns [H, W, 3] in
  [0, 1] (not on the 8-bit grid)."""
  h, w, _ = image.shape
  rgb = jnp.clip(image, 0, 1) * 255
  if valid_hw is not None:
    inside = (jnp.arange(h)[:, None] < valid_hw[0]) & (jnp.arange(w)[None, :] < valid_hw[1])
    rgb = jnp.where(inside[..., None], rgb, 0.0)
  rgb = jnp.pad(rgb, ((0, -h % 16), (0, -w % 16), (0, 0)))
  hp, wp = rgb.shape[:2]
  ycc = jnp.einsum('hwk,ck->hwc', rgb, RGB_TO_YCBCR, precision=jax.lax.Precision.HIGHEST) + CHROMA_OFFSET
  chroma = ycc[..., 1:].reshape(hp // 2, 2, wp // 2, 2, 2).mean(axis=(1, 3))
  factor = quality_factor(quality)
  y = _roundtrip_plane(ycc[..., 0], DIFFJPEG_LUMA_TABLE * factor)
  cb, cr = (_roundtrip_plane(chroma[..., c], DIFFJPEG_CHROMA_TABLE * factor) for c in range(2))
  repeat = lambda plane: jnp.repeat(jnp.repeat(plane, 2, axis=0), 2, axis=1)
  decoded = jnp.stack([y, repeat(cb), repeat(cr)], axis=-1) - CHROMA_OFFSET
  rgb_out = jnp.einsum('hwk,ck->hwc', decoded, YCBCR_TO_RGB, precision=jax.lax.Precision.HIGHEST)
  return jnp.clip(rgb_out, 0, 255)[:h, :w] / 255
