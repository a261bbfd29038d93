"""Resizing by traced (per-example) factors into fixed-size canvases, so random resizes stay jit-able.

An image of valid size (h, w) lives in the top-left corner of a static [H, W, C] canvas; the rest repeats its last
row and column (`fill_beyond`). `resize` maps the valid region of one canvas onto the valid region of another, of a
size computed at run time. Methods, as torch's `F.interpolate` (no antialiasing) in Real-ESRGAN's degradation:
'bilinear' and 'bicubic' are `jax.image.scale_and_translate` with the 'linear' and 'cubic' (Keys a = -0.5) kernels;
'area' averages each output pixel's footprint exactly (box filter by overlap).
"""

import jax
import jax.numpy as jnp

RESIZE_METHODS = ('area', 'bilinear', 'bicubic')


def fill_beyond(canvas: jax.Array, valid_hw: jax.Array) -> jax.Array:
  """Repeats the last valid row and column of [H, W, C] over the rest of the canvas."""
  rows = jnp.minimum(jnp.arange(canvas.shape[0]), valid_hw[0] - 1)
  cols = jnp.minimum(jnp.arange(canvas.shape[1]), valid_hw[1] - 1)
  return canvas[rows][:, cols]


def area_matrix(in_len: int, out_len: int, scale: jax.Array) -> jax.Array:
  """[out_len, in_len] weights: output pixel j averages input [j / scale, (j + 1) / scale) by overlap length."""
  start = jnp.arange(out_len, dtype=jnp.float32)[:, None] / scale
  end = start + 1 / scale
  left = jnp.arange(in_len, dtype=jnp.float32)[None, :]
  overlap = jnp.clip(jnp.minimum(end, left + 1) - jnp.maximum(start, left), 0, None)
  return overlap / jnp.maximum(jnp.sum(overlap, axis=1, keepdims=True), 1e-12)


def _resize_area(image: jax.Array, out_hw: tuple[int, int], scale: jax.Array) -> jax.Array:
  rows = area_matrix(image.shape[0], out_hw[0], scale[0])
  cols = area_matrix(image.shape[1], out_hw[1], scale[1])
  return jnp.einsum('oh,hwc,pw->opc', rows, image, cols, precision=jax.lax.Precision.HIGHEST)


def _resize_kernel(image: jax.Array, out_hw: tuple[int, int], scale: jax.Array, method: str) -> jax.Array:
  return jax.image.scale_and_translate(
    image,
    (*out_hw, image.shape[2]),
    (0, 1),
    scale,
    jnp.zeros(2),
    method,
    antialias=False,
    precision=jax.lax.Precision.HIGHEST,
  )


def resize(
  canvas: jax.Array, valid_hw: jax.Array, out_valid_hw: jax.Array, out_canvas_hw: tuple[int, int], method: jax.Array
) -> jax.Array:
  """Resizes the valid [h, w] region of `canvas` [H, W, C] to [h', w'] = out_valid_hw in the top-left of a new
  [*out_canvas_hw, C] canvas (filled beyond by `fill_beyond`). method: index into RESIZE_METHODS (may be traced)."""
  scale = jnp.asarray(out_valid_hw, jnp.float32) / jnp.asarray(valid_hw, jnp.float32)
  branches = [
    lambda x: _resize_area(x, out_canvas_hw, scale),
    lambda x: _resize_kernel(x, out_canvas_hw, scale, 'linear'),
    lambda x: _resize_kernel(x, out_canvas_hw, scale, 'cubic'),
  ]
  return fill_beyond(jax.lax.switch(method, branches, canvas), jnp.asarray(out_valid_hw))
