"""What the page shows of an upscale: the bicubic baseline, a zoomed crop of both sides, and no-reference quality."""

import numpy as np
from PIL import Image

from esrgan_jax.data.image_io import to_rgb
from esrgan_jax.data.imresize import imresize
from esrgan_jax.data.quantize import unit_to_levels
from esrgan_jax.inference import niqe

ZOOM_DISPLAY = 384  # pixels on the longer side of a zoomed crop as sent to the page
PREVIEW_MAX = 2048  # longest side of the comparison images sent to the page


def bicubic(image: np.ndarray, scale: int) -> np.ndarray:
  """MATLAB bicubic upscale of an HW or HWC float image in [0, 1], clipped: the "before" side of a comparison."""
  return np.clip(imresize(image, scale), 0.0, 1.0).astype(np.float32)


def display(image: np.ndarray) -> np.ndarray:
  """uint8 RGB HW3 of an HW/HWC float image in [0, 1] (gray repeated, alpha dropped): what the page shows."""
  return to_rgb(unit_to_levels(image), warn=False)  # the levels `write_image` writes


def preview_factor(height: int, width: int, max_side: int | None = None) -> int:
  """The integer factor a `height`x`width` display image is reduced by for the page: 1 up to `max_side` (default
  PREVIEW_MAX)."""
  return -(-max(height, width) // (max_side or PREVIEW_MAX))


def preview(image: np.ndarray, max_side: int | None = None) -> np.ndarray:
  """A uint8 HW3 display image reduced (box filter, `preview_factor`) to at most `max_side` pixels per side: the
  page's comparison stays light for huge outputs; the zoom and the download keep full resolution."""
  factor = preview_factor(*image.shape[:2], max_side)
  return image if factor == 1 else np.asarray(Image.fromarray(image).reduce(factor))


def zoom(before: np.ndarray, after: np.ndarray, x: float, y: float, factor: float) -> tuple[np.ndarray, np.ndarray]:
  """The same crop of two equal-size display images, 1/`factor` of the shorter side, centred at (`x`, `y`) percent
  of the width and height (kept inside the image), enlarged by pixel repetition to about ZOOM_DISPLAY pixels."""
  height, width = before.shape[:2]
  side = max(1, int(min(height, width) / max(factor, 1.0)))
  top = int(np.clip(y / 100 * height - side / 2, 0, height - side))
  left = int(np.clip(x / 100 * width - side / 2, 0, width - side))
  repeat = max(1, ZOOM_DISPLAY // side)
  crop = lambda image: image[top : top + side, left : left + side].repeat(repeat, axis=0).repeat(repeat, axis=1)
  return crop(before), crop(after)


def niqe_or_reason(image: np.ndarray) -> float | str:
  """NIQE of a uint8 HW3 display image (lower is better), or why it has none (too small)."""
  try:
    return niqe.niqe(image)
  except ValueError as e:
    return f'no NIQE: {e}'
