"""PSNR and SSIM as the ESRGAN paper and BasicSR compute them (numpy, float64).

Conventions (BasicSR `metrics/psnr_ssim.py`, Wang et al.'s MATLAB `ssim_index.m`):

* images are uint8 in [0, 255] or float in [0, 1]; both are compared on the 0-255 scale in float64;
* `crop_border` pixels are removed from every side before comparing (the paper crops `scale` pixels);
* `test_y_channel=True` compares the BT.601 studio-swing luma Y (MATLAB `rgb2ycbcr`), unrounded;
  the paper's tables use Y, BasicSR's configs and ModelZoo use RGB;
* grayscale images (HW or HW1) count as RGB with three equal channels.
"""

import numpy as np

# Row of MATLAB rgb2ycbcr for Y, on RGB in [0, 1]; Y = _Y_WEIGHTS @ rgb + 16 lies in [16, 235].
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966])
_SSIM_SIZE, _SSIM_SIGMA = 11, 1.5
_SSIM_C1, _SSIM_C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


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


def _gaussian_window() -> np.ndarray:
  """The 1-D factor of MATLAB's `fspecial('gaussian', 11, 1.5)`, summing to 1."""
  x = np.arange(_SSIM_SIZE) - (_SSIM_SIZE - 1) / 2
  g = np.exp(-(x**2) / (2 * _SSIM_SIGMA**2))
  return g / g.sum()


def _filter_valid(image: np.ndarray, window: np.ndarray) -> np.ndarray:
  """Separable 2-D correlation of HW with window x window, 'valid' region (MATLAB `filter2(w, x, 'valid')`)."""
  rows = np.lib.stride_tricks.sliding_window_view(image, window.size, axis=0) @ window
  return np.lib.stride_tricks.sliding_window_view(rows, window.size, axis=1) @ window


def _ssim_channel(a: np.ndarray, b: np.ndarray) -> float:
  """Mean SSIM of two HW float64 images on the 0-255 scale over the valid region of the 11x11 window."""
  w = _gaussian_window()
  mu_a, mu_b = _filter_valid(a, w), _filter_valid(b, w)
  var_a = _filter_valid(a * a, w) - mu_a**2
  var_b = _filter_valid(b * b, w) - mu_b**2
  cov = _filter_valid(a * b, w) - mu_a * mu_b
  ssim_map = (
    (2 * mu_a * mu_b + _SSIM_C1) * (2 * cov + _SSIM_C2) / ((mu_a**2 + mu_b**2 + _SSIM_C1) * (var_a + var_b + _SSIM_C2))
  )
  return float(ssim_map.mean())


def ssim(a: np.ndarray, b: np.ndarray, crop_border: int, test_y_channel: bool = True) -> float:
  """SSIM (Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03, L 255), mean over the valid region, averaged per channel.

  Like BasicSR there is no automatic downsampling of large images (the later MATLAB `ssim.m` has one).
  Images smaller than 11x11 after cropping have no valid region and raise.
  """
  a, b = _prepare(a, b, crop_border, test_y_channel)
  if min(a.shape[:2]) < _SSIM_SIZE:
    raise ValueError(f'SSIM needs at least {_SSIM_SIZE}x{_SSIM_SIZE} pixels after cropping, got {a.shape[:2]}.')
  return float(np.mean([_ssim_channel(a[..., c], b[..., c]) for c in range(a.shape[-1])]))
