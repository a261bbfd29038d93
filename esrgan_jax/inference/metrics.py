"""PSNR and SSIM as the ESRGAN paper and BasicSR compute them (numpy, float64).

Conventions (BasicSR `metrics/psnr_ssim.py`, Wang et al.'s MATLAB `ssim_index.m`):

* images are uint8 in [0, 255] or float in [0, 1]; both are compared on the 0-255 scale in float64;
* `crop_border` pixels are removed from every side before comparing (the paper crops `scale` pixels);
* `test_y_channel=True` compares the BT.601 studio-swing luma Y (MATLAB `rgb2ycbcr`), unrounded;
  the paper's tables use Y, BasicSR's configs and ModelZoo use RGB;
* grayscale images (HW or HW1) count as RGB with three equal channels.
"""

import numpy as np
import skimage.metrics  # its submodules (and scipy) load at the first SSIM

# Row of MATLAB rgb2ycbcr for Y, on RGB in [0, 1]; Y = _Y_WEIGHTS @ rgb + 16 lies in [16, 235].
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966])
_SSIM_SIZE, _SSIM_SIGMA = 11, 1.5  # skimage's Gaussian window: 2 * int(3.5 * sigma + 0.5) + 1 = 11 taps


def rgb_to_y(image: np.ndarray) -> np.ndarray:
  """BT.601 studio-swing luma of RGB [..., 3] in [0, 1] -> [...] on the 0-255 scale, in [16, 235], float64."""
  image = np.asarray(image, np.float64)
  if image.shape[-1] != 3:
    raise ValueError(f'rgb_to_y expects RGB with 3 channels on the last axis, got shape {image.shape}.')
  return image @ _Y_WEIGHTS + 16.0


def _to_255(image: np.ndarray, name: str) -> np.ndarray:
  """uint8 [0, 255] or float [0, 1], HW / HW1 / HW3 -> float64 HW3 on the 0-255 scale (gray repeated)."""
  image = np.asarray(image)
  if image.dtype == np.uint8:
    out = image.astype(np.float64)
  elif np.issubdtype(image.dtype, np.floating):
    if image.size and (image.min() < 0 or image.max() > 1):
      raise ValueError(
        f'{name}: float images must lie in [0, 1], got [{image.min():.4g}, {image.max():.4g}]; '
        'clip them, or pass uint8 for the 0-255 scale.'
      )
    out = image.astype(np.float64) * 255.0
  else:
    raise ValueError(f'{name}: expected uint8 in [0, 255] or float in [0, 1], got dtype {image.dtype}.')
  if out.ndim == 2:
    out = out[..., None]
  if out.ndim != 3 or out.shape[-1] not in (1, 3):
    raise ValueError(f'{name}: expected an HW, HW1 or HW3 image, got shape {image.shape}.')
  return np.repeat(out, 3, axis=-1) if out.shape[-1] == 1 else out


def _prepare(a: np.ndarray, b: np.ndarray, crop_border: int, test_y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
  """Both images as float64 HWC (C = 1 for Y, 3 for RGB) on the 0-255 scale, borders cropped."""
  a, b = _to_255(a, 'first image'), _to_255(b, 'second image')
  if a.shape != b.shape:
    raise ValueError(f'images differ in shape: {a.shape} vs {b.shape}; crop both to the same size first.')
  if crop_border < 0 or 2 * crop_border >= min(a.shape[:2]):
    raise ValueError(f'crop_border={crop_border} must be >= 0 and leave pixels of a {a.shape[0]}x{a.shape[1]} image.')
  if crop_border:
    a = a[crop_border:-crop_border, crop_border:-crop_border]
    b = b[crop_border:-crop_border, crop_border:-crop_border]
  if test_y_channel:
    a, b = rgb_to_y(a / 255.0)[..., None], rgb_to_y(b / 255.0)[..., None]
  return a, b


def psnr(a: np.ndarray, b: np.ndarray, crop_border: int, test_y_channel: bool = True) -> float:
  """PSNR in dB, `10 log10(255^2 / MSE)` on the 0-255 scale; inf for identical images."""
  a, b = _prepare(a, b, crop_border, test_y_channel)
  mse = np.mean((a - b) ** 2)
  return float('inf') if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray, crop_border: int, test_y_channel: bool = True) -> float:
  """SSIM (Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03, L 255), mean over the valid region, averaged per channel.

  Like BasicSR there is no automatic downsampling of large images (the later MATLAB `ssim.m` has one).
  Images smaller than 11x11 after cropping have no valid region and raise. skimage filters the whole image and
  averages the SSIM map without its 5-pixel border, i.e. over MATLAB's `filter2(..., 'valid')` region.
  """
  a, b = _prepare(a, b, crop_border, test_y_channel)
  if min(a.shape[:2]) < _SSIM_SIZE:
    raise ValueError(f'SSIM needs at least {_SSIM_SIZE}x{_SSIM_SIZE} pixels after cropping, got {a.shape[:2]}.')
  return float(
    skimage.metrics.structural_similarity(
      a, b, gaussian_weights=True, sigma=_SSIM_SIGMA, use_sample_covariance=False, data_range=255, channel_axis=-1
    )
  )
