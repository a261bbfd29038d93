"""MATLAB-exact bicubic `imresize` in numpy (float64); `imresize_tf` has the same in TensorFlow ops.

The algorithm is MATLAB's `imresize(img, scale, 'bicubic')`, which made the LR
images of every ESRGAN benchmark:

* Keys cubic kernel with a = -0.5;
* when downscaling, antialiasing widens the kernel to 4/scale taps and the
  weights become scale * cubic(scale * d);
* output pixel x (1-based) samples input coordinate u = x/scale + 0.5(1 - 1/scale);
* symmetric (mirror-with-edge) border padding, weights normalised to sum 1;
* output length ceil(in * scale), H first then W, no rounding.

Each axis is a linear map, so it is applied as a dense [out, in] matrix built
once per (in_len, out_len, scale). Values keep the input's units: uint8 input
gives float64 in [0, 255], which callers round as MATLAB does on uint8.
"""

import functools
import math

import numpy as np


def cubic(x):
  """Keys cubic kernel (a = -0.5) of numpy arrays."""
  absx = abs(x)
  absx2 = absx * absx
  absx3 = absx2 * absx
  inner = 1.5 * absx3 - 2.5 * absx2 + 1.0
  outer = -0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0
  zero = 0.0 * absx
  return np.where(absx <= 1.0, inner, np.where(absx <= 2.0, outer, zero))


def kernel_geometry(scale: float) -> tuple[float, int]:
  """Kernel width in input pixels and taps per output pixel for `scale`."""
  kernel_width = 4.0 / scale if scale < 1 else 4.0
  return kernel_width, math.ceil(kernel_width) + 2


def output_length(in_len: int, scale: float) -> int:
  """MATLAB's output length: ceil(in_len * scale)."""
  return math.ceil(in_len * scale)


@functools.lru_cache(maxsize=256)
def resize_taps(in_len: int, out_len: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
  """Per output pixel its taps: 0-based input indices (borders mirrored) and float64 weights, both [out_len, taps].

  Weights sum to 1 along taps; a tap beyond the kernel's reach has weight 0 (MATLAB takes one extra each side).
  Both arrays are read-only.
  """
  if in_len < 1 or out_len < 1:
    raise ValueError(f'imresize needs lengths >= 1, got in={in_len} out={out_len}.')
  kernel_width, taps = kernel_geometry(scale)
  u = np.arange(1, out_len + 1, dtype=np.float64) / scale + 0.5 * (1 - 1 / scale)
  left = np.floor(u - kernel_width / 2)
  indices = left[:, None] + np.arange(taps)[None, :]  # 1-based input positions
  distance = u[:, None] - indices
  weights = scale * cubic(scale * distance) if scale < 1 else cubic(distance)
  weights = weights / weights.sum(axis=1, keepdims=True)
  # Symmetric padding as MATLAB does it: index into [1..n, n..1], periodically.
  mirrored = np.mod(indices.astype(np.int64) - 1, 2 * in_len)
  mirrored = np.where(mirrored < in_len, mirrored, 2 * in_len - 1 - mirrored)
  mirrored.setflags(write=False)
  weights.setflags(write=False)
  return mirrored, weights


@functools.lru_cache(maxsize=256)
def resize_matrix(in_len: int, out_len: int, scale: float) -> np.ndarray:
  """The [out_len, in_len] float64 matrix that resizes one axis (read-only)."""
  indices, weights = resize_taps(in_len, out_len, scale)
  matrix = np.zeros((out_len, in_len))
  np.add.at(matrix, (np.repeat(np.arange(out_len), indices.shape[1]), indices.ravel()), weights.ravel())
  matrix.setflags(write=False)
  return matrix


def imresize(
  image: np.ndarray, scale: float | None = None, *, output_shape: tuple[int, int] | None = None
) -> np.ndarray:
  """MATLAB bicubic resize of an HW or HWC array, computed in float64.

  Args:
    image: HW or HWC array, any float or integer dtype (values kept as they are).
    scale: resize factor (e.g. 1/4 to downscale x4); output is ceil(in * scale).
    output_shape: (H, W) instead of `scale`; each axis then uses out/in as scale.

  Returns:
    float64 array of the output size, same rank as `image`, not rounded.
  """
  if image.ndim not in (2, 3):
    raise ValueError(f'imresize expects an HW or HWC image, got shape {image.shape}.')
  if (scale is None) == (output_shape is None):
    raise ValueError('imresize needs exactly one of `scale` or `output_shape`.')
  in_h, in_w = image.shape[:2]
  if output_shape is None:
    if scale <= 0:
      raise ValueError(f'imresize scale must be positive, got {scale}.')
    out_h, out_w = output_length(in_h, scale), output_length(in_w, scale)
    scale_h = scale_w = float(scale)
  else:
    out_h, out_w = output_shape
    scale_h, scale_w = out_h / in_h, out_w / in_w
  x = np.asarray(image, dtype=np.float64)
  x = np.tensordot(resize_matrix(in_h, out_h, scale_h), x, axes=(1, 0))
  x = np.tensordot(resize_matrix(in_w, out_w, scale_w), x, axes=(1, 1))
  return np.swapaxes(x, 0, 1)  # tensordot put W first.


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
  """Crops H and W of an HW/HWC array down to multiples of `scale` (bottom/right)."""
  h, w = image.shape[:2]
  return image[: h - h % scale, : w - w % scale]
