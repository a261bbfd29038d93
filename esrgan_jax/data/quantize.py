"""Rounding to integer levels as MATLAB's `uint8()`/`uint16()` do: half away from zero, saturating.

The paper's test protocol (and so every LR image, SR output and written file of esrgan_jax) rounds that way;
`np.round` would round half to even instead. The tf.data graph (`input_pipeline`) uses the same formula in TF ops.
"""

import numpy as np


def quantize(values: np.ndarray, max_value: int = 255) -> np.ndarray:
  """Values on the 0..max_value scale -> uint8 (max 255) or uint16 (max 65535): floor(x + 0.5), clipped."""
  dtype = np.uint8 if max_value <= 255 else np.uint16
  return np.clip(np.floor(np.asarray(values, np.float64) + 0.5), 0, max_value).astype(dtype)


def levels_to_unit(pixels: np.ndarray) -> np.ndarray:
  """uint8 or uint16 levels -> float32 in [0, 1]: level / (2**bits - 1), the scale `quantize` rounds back from."""
  image = pixels.astype(np.float32)
  image /= np.float32(np.iinfo(pixels.dtype).max)
  return image


def unit_to_levels(image: np.ndarray, max_value: int = 255) -> np.ndarray:
  """Float image in [0, 1] (clipped) -> `quantize`d levels, scaled in the image's own precision (a float32 image as
  the devices and BasicSR's `tensor2img` scale it): what files are written with, and what the web app shows."""
  return quantize(np.clip(image, 0, 1) * max_value, max_value)


def to_uint8(image: np.ndarray) -> np.ndarray:
  """Float image in [0, 1] (clipped) -> uint8 levels."""
  return quantize(np.clip(np.asarray(image, np.float64), 0.0, 1.0) * 255.0)
