"""Resizing by traced (per-example) sizes into fixed-size canvases, so random resizes stay jit-able.

An image of valid size (h, w) lives in the top-left corner of a static [H, W, C] canvas; the rest repeats its last
row and column (`fill_beyond`). `resize` maps the valid region of one canvas onto the valid region of another, of a
size computed at run time, sampling as torch's `F.interpolate` (align_corners=False, no antialiasing) does in
Real-ESRGAN's degradation: output pixel j reads input coordinate (j + 0.5) * step - 0.5, where step is 1 / scale_factor
when one is given, else the size ratio in / out; 'bilinear' clamps that coordinate at 0 and interpolates linearly,
'bicubic' uses the cubic convolution kernel with a = -0.75 on edge-clamped taps, and 'area' is adaptive average
pooling (output j averages input floor(j * in / out) .. ceil((j + 1) * in / out) - 1, unweighted).
"""

import jax
import jax.numpy as jnp

RESIZE_METHODS = ('area', 'bilinear', 'bicubic')
CUBIC_A = -0.75  # torch's bicubic


def fill_beyond(canvas: jax.Array, valid_hw: jax.Array) -> jax.Array:
  """Repeats the last valid row and column of [H, W, C] over the rest of the canvas."""
  rows = jnp.minimum(jnp.arange(canvas.shape[0]), valid_hw[0] - 1)
  cols = jnp.minimum(jnp.arange(canvas.shape[1]), valid_hw[1] - 1)
  return canvas[rows][:, cols]


def _taps(out_len: int, in_len: int, indices: jax.Array, weights: jax.Array) -> jax.Array:
  """[out_len, in_len] matrix with weights [out_len, T] at input indices [out_len, T]."""
  one_hot = indices[..., None] == jnp.arange(in_len)
  return jnp.sum(jnp.where(one_hot, weights[..., None], 0.0), axis=1)


def area_matrix(in_len: int, out_len: int, in_valid: jax.Array, out_valid: jax.Array) -> jax.Array:
  """[out_len, in_len] adaptive-average-pooling weights from in_valid to out_valid samples (integer bin edges)."""
  j = jnp.arange(out_len)
  start = j * in_valid // out_valid
  end = ((j + 1) * in_valid + out_valid - 1) // out_valid
  k = jnp.arange(in_len)
  inside = (k >= start[:, None]) & (k < end[:, None])
  return inside / (end - start)[:, None].astype(jnp.float32)


def _source(out_len: int, step: jax.Array) -> jax.Array:
  """torch's area_pixel_compute_source_index (align_corners=False), float32: (j + 0.5) * step - 0.5."""
  return step * (jnp.arange(out_len, dtype=jnp.float32) + 0.5) - 0.5


def linear_matrix(in_len: int, out_len: int, in_valid: jax.Array, step: jax.Array) -> jax.Array:
  """[out_len, in_len] bilinear weights: the coordinate clamped at 0, its floor and the next sample (edge-clamped)."""
  source = jnp.maximum(_source(out_len, step), 0.0)
  first = jnp.minimum(jnp.floor(source).astype(jnp.int32), in_valid - 1)
  frac = jnp.clip(source - first, 0.0, 1.0)
  indices = jnp.stack([first, jnp.minimum(first + 1, in_valid - 1)], axis=1)
  return _taps(out_len, in_len, indices, jnp.stack([1 - frac, frac], axis=1))


def cubic_weights(t: jax.Array, a: float = CUBIC_A) -> jax.Array:
  """Cubic convolution weights [..., 4] of the taps at offsets -1, 0, 1, 2 for a fractional position t in [0, 1]."""
  near = lambda x: ((a + 2) * x - (a + 3)) * x * x + 1  # |x| <= 1
  far = lambda x: ((a * x - 5 * a) * x + 8 * a) * x - 4 * a  # 1 < |x| < 2
  return jnp.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def cubic_matrix(in_len: int, out_len: int, in_valid: jax.Array, step: jax.Array) -> jax.Array:
  """[out_len, in_len] bicubic weights (a = -0.75) of the four taps around each coordinate, clamped to the edges."""
  source = _source(out_len, step)
  first = jnp.minimum(jnp.floor(source).astype(jnp.int32), in_valid - 1)
  frac = jnp.clip(source - first, 0.0, 1.0)
  indices = jnp.clip(first[:, None] + jnp.arange(-1, 3), 0, in_valid - 1)
  return _taps(out_len, in_len, indices, cubic_weights(frac))


def _axis_matrix(
  in_len: int, out_len: int, in_valid: jax.Array, out_valid: jax.Array, step: jax.Array, method: jax.Array
) -> jax.Array:
  return jax.lax.switch(
    method,
    [
      lambda: area_matrix(in_len, out_len, in_valid, out_valid),
      lambda: linear_matrix(in_len, out_len, in_valid, step),
      lambda: cubic_matrix(in_len, out_len, in_valid, step),
    ],
  )


def resize(
  canvas: jax.Array,
  valid_hw: jax.Array,
  out_valid_hw: jax.Array,
  out_canvas_hw: tuple[int, int],
  method: jax.Array,
  scale_factor: jax.Array | None = None,
) -> jax.Array:
  """Resizes the valid [h, w] region of `canvas` [H, W, C] to [h', w'] = out_valid_hw in the top-left of a new
  [*out_canvas_hw, C] canvas (filled beyond by `fill_beyond`). method: index into RESIZE_METHODS (may be traced).

  scale_factor (scalar or [2], may be traced): torch's `F.interpolate(scale_factor=...)`, which samples with step
  1 / scale_factor (out_valid_hw must then be floor(hw * scale_factor)); None: `F.interpolate(size=...)`, step in / out.
  'area' depends on the sizes only."""
  valid_hw, out_valid_hw = jnp.asarray(valid_hw, jnp.int32), jnp.asarray(out_valid_hw, jnp.int32)
  if scale_factor is None:
    step = valid_hw.astype(jnp.float32) / out_valid_hw.astype(jnp.float32)
  else:
    step = 1.0 / jnp.broadcast_to(jnp.asarray(scale_factor, jnp.float32), (2,))
  rows, cols = (
    _axis_matrix(canvas.shape[a], out_canvas_hw[a], valid_hw[a], out_valid_hw[a], step[a], method) for a in range(2)
  )
  out = jnp.einsum('oh,hwc,pw->opc', rows, canvas, cols, precision=jax.lax.Precision.HIGHEST)
  return fill_beyond(out, out_valid_hw)
