"""Baseline JPEG compression and decompression of one image in JAX (quality may be traced, per example).

Steps as libjpeg with its defaults (Pillow's `save(quality=q)`): RGB -> YCbCr (JFIF), 4:2:0 chroma subsampling by
2x2 averages, level shift, 8x8 DCT-II, quantisation by the standard tables (ITU-T T.81 Annex K) scaled by quality
with the IJG formula, rounding; then dequantisation, inverse DCT, triangle ("fancy") chroma upsampling, YCbCr ->
RGB and rounding to 8 bits. Images whose sides are not multiples of 16 are padded by repeating the last row and
column, as libjpeg pads partial blocks. Float arithmetic replaces libjpeg's integer DCT, so a few levels differ.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

# ITU-T T.81 Annex K.1 tables, row = vertical frequency.
LUMA_TABLE = np.array(
  [
    [16, 11, 10, 16, 24, 40, 51, 61],
    [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77],
    [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101],
    [72, 92, 95, 98, 112, 100, 103, 99],
  ],
  np.float32,
)
CHROMA_TABLE = np.full((8, 8), 99, np.float32)
CHROMA_TABLE[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]
# JFIF RGB -> YCbCr rows (Y, Cb, Cr), offsets 0, 128, 128; and its inverse.
RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
YCBCR_TO_RGB = np.array([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]], np.float32)
CHROMA_OFFSET = np.array([0.0, 128.0, 128.0], np.float32)


def dct_matrix() -> np.ndarray:
  """Orthonormal 8-point DCT-II [u, x] = c(u) cos((2x + 1) u pi / 16); its 2-D use equals JPEG's FDCT."""
  u, x = np.meshgrid(np.arange(8), np.arange(8), indexing='ij')
  scale = np.where(u == 0, math.sqrt(1 / 8), 0.5)
  return (scale * np.cos((2 * x + 1) * u * math.pi / 16)).astype(np.float32)


def quantization_tables(quality) -> tuple[jax.Array, jax.Array]:
  """Luma and chroma tables [8, 8] for quality in [1, 100] by the IJG formula: scale 5000 / q below 50, else
  200 - 2q (percent); entries floor((t * scale + 50) / 100) clipped to [1, 255] (baseline)."""
  quality = jnp.clip(jnp.asarray(quality, jnp.float32), 1, 100)
  scale = jnp.where(quality < 50, 5000 / quality, 200 - 2 * quality)
  table = lambda base: jnp.clip(jnp.floor((base * scale + 50) / 100), 1, 255)
  return table(LUMA_TABLE), table(CHROMA_TABLE)


def _blockwise(plane: jax.Array, matrix_fn) -> jax.Array:
  """Applies [8, 8] -> [8, 8] per block of an [H, W] plane (H, W multiples of 8)."""
  h, w = plane.shape
  blocks = plane.reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)
  return matrix_fn(blocks).transpose(0, 2, 1, 3).reshape(h, w)


def _compress_plane(plane: jax.Array, table: jax.Array) -> jax.Array:
  """8-bit samples [H, W] -> the samples decoded from their quantised DCT coefficients (rounded, clipped)."""
  d = jnp.asarray(dct_matrix())
  hi = jax.lax.Precision.HIGHEST

  def roundtrip(blocks):
    coefficients = jnp.einsum('ux,...xy,vy->...uv', d, blocks - 128, d, precision=hi)
    dequantised = jnp.round(coefficients / table) * table
    return jnp.einsum('ux,...uv,vy->...xy', d, dequantised, d, precision=hi) + 128

  return jnp.clip(jnp.round(_blockwise(plane, roundtrip)), 0, 255)


def _upsample2(plane: jax.Array, axis: int) -> jax.Array:
  """Doubles one axis with the triangle filter: 3/4 of the nearer sample + 1/4 of the next (edges repeated)."""
  n = plane.shape[axis]
  previous = jnp.take(plane, jnp.maximum(jnp.arange(n) - 1, 0), axis=axis)
  following = jnp.take(plane, jnp.minimum(jnp.arange(n) + 1, n - 1), axis=axis)
  even, odd = 0.75 * plane + 0.25 * previous, 0.75 * plane + 0.25 * following
  return jnp.stack([even, odd], axis=axis + 1).reshape(plane.shape[:axis] + (2 * n,) + plane.shape[axis + 1 :])


def jpeg(image: jax.Array, quality) -> jax.Array:
  """JPEG round trip of [H, W, 3] in [0, 1] at `quality` (1..100; non-integers interpolate the table formula).
  Returns [H, W, 3] in [0, 1] on the 8-bit grid."""
  h, w, _ = image.shape
  pad = ((0, -h % 16), (0, -w % 16), (0, 0))
  rgb = jnp.pad(jnp.clip(image, 0, 1) * 255, pad, mode='edge')
  ycc = jnp.clip(jnp.round(rgb @ RGB_TO_YCBCR.T + CHROMA_OFFSET), 0, 255)
  hp, wp = rgb.shape[:2]
  chroma = jnp.round(ycc[..., 1:].reshape(hp // 2, 2, wp // 2, 2, 2).mean(axis=(1, 3)))
  luma_table, chroma_table = quantization_tables(quality)
  y = _compress_plane(ycc[..., 0], luma_table)
  cb, cr = (_upsample2(_upsample2(_compress_plane(chroma[..., c], chroma_table), 0), 1) for c in range(2))
  decoded = jnp.stack([y, cb, cr], axis=-1) - CHROMA_OFFSET
  rgb_out = jnp.clip(jnp.round(decoded @ YCBCR_TO_RGB.T), 0, 255)
  return rgb_out[:h, :w] / 255
