"""Exports a generator to ONNX with `jax2onnx` (the `[export]` extra): NCHW input, dynamic batch/height/width.

The graph maps `input` [B, C, H, W] in [0, 1] to `output` [B, C', scale*H, scale*W] (not clipped), the layout of
every ONNX upscaler (chaiNNer, onnxruntime pipelines). A generator that needs H and W to be multiples of m (RRDBNet
x2 and x1 pixel-unshuffle by 2 and 4) gets its input reflect-padded at the bottom/right to a multiple of m inside
the graph and its output cropped back, as `esrgan_jax.inference.tiling.upscale_image` does, so any H, W >= m works.
The graph is traced from the module itself, so any generator whose ops jax2onnx lowers with symbolic sizes exports
(RRDBNet; not MSRResNet, whose `jax.image.resize` jax2onnx 0.17 lowers for static shapes only).
"""

import os
from typing import Any

import flax.linen as nn
import jax
import numpy as np

from esrgan_jax import extras
from esrgan_jax.data.atomic_write import atomic_path

# Candidate size multiples, smallest first (pixel-unshuffle factors of the generators we run).
_SIZE_MULTIPLES = (1, 2, 4, 8, 16)
INSTALL_HINT = extras.install_hint('export')


def size_multiple_and_scale(module: nn.Module, params: Any) -> tuple[int, int]:
  """(m, scale): the smallest m in 1, 2, 4, 8, 16 such that the generator accepts an m x m input, and its scale.

  Found by tracing shapes only (`jax.eval_shape`); a generator refuses other sizes with a ValueError.
  """
  for m in _SIZE_MULTIPLES:
    x = jax.ShapeDtypeStruct((1, m, m, module.num_in_ch), np.float32)
    try:
      out = jax.eval_shape(lambda p, x: module.apply({'params': p}, x), params, x)
    except ValueError:
      continue
    return m, out.shape[1] // m
  raise ValueError(f'{type(module).__name__} accepts no square input of side {", ".join(map(str, _SIZE_MULTIPLES))}.')


def _reflect_pad_to_multiple(x: jax.Array, axis: int, m: int) -> jax.Array:
  """Reflect-pads `axis` (a symbolic size n >= m) at its end to the next multiple of m, like np.pad 'reflect'.

  Uses lax ops only: jax2onnx replaces some jnp functions while tracing, and those lose the bounds that let the
  final slice be proven in range.
  """
  if m == 1:
    return x
  n = x.shape[axis]
  tail = jax.lax.rev(jax.lax.slice_in_dim(x, n - m, n - 1, axis=axis), (axis,))  # rows n-2, ..., n-m
  return jax.lax.slice_in_dim(jax.lax.concatenate([x, tail], axis), 0, m * ((n + m - 1) // m), axis=axis)


def nchw_function(module: nn.Module, params: Any, m: int, scale: int):
  """x [B, C, H, W] -> module output [B, C', scale*H, scale*W], padding H and W to multiples of m and cropping."""

  def upscale(x: jax.Array) -> jax.Array:
    b, _, h, w = x.shape
    padded = _reflect_pad_to_multiple(_reflect_pad_to_multiple(x, 2, m), 3, m)
    y = module.apply({'params': params}, padded.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    return jax.lax.slice(y, (0, 0, 0, 0), (b, y.shape[1], scale * h, scale * w))

  return upscale


def to_onnx(module: nn.Module, params: Any, *, fp16: bool = False, opset: int = 17, name: str = 'esrgan_jax'):
  """The `onnx.ModelProto` of a generator: input `input` [B, C, H, W], output `output`, both float32 (or float16
  with `fp16`: weights, activations and I/O in half precision). B, H and W are dynamic (H, W >= the size multiple).
  """
  try:
    import jax2onnx  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(f'{INSTALL_HINT} ({e})') from e
  dtype = np.float16 if fp16 else np.float32
  params = jax.tree.map(lambda p: np.asarray(p, dtype), params)
  m, scale = size_multiple_and_scale(module, params)
  shape = jax.export.symbolic_shape(f'B, {module.num_in_ch}, H, W', constraints=(f'H >= {m}', f'W >= {m}'))
  try:
    return jax2onnx.to_onnx(
      nchw_function(module, params, m, scale),
      [jax.ShapeDtypeStruct(shape, dtype)],
      model_name=name,
      opset=opset,
      input_names=['input'],
      output_names=['output'],
    )
  except jax.errors.InconclusiveDimensionOperation as e:  # an op jax2onnx lowers for static shapes only
    raise ValueError(
      f'jax2onnx cannot export {type(module).__name__} with dynamic batch, height and width: {str(e).splitlines()[0]}'
    ) from e


def save_onnx(path: str | os.PathLike, module: nn.Module, params: Any, *, fp16: bool = False, opset: int = 17) -> None:
  """Writes `to_onnx(module, params)` as one self-contained `.onnx` file (weights inside)."""
  model = to_onnx(module, params, fp16=fp16, opset=opset)
  import onnx  # pylint: disable=g-import-not-at-top  (installed with jax2onnx)

  with atomic_path(path) as partial:
    onnx.save_model(model, os.fspath(partial))
