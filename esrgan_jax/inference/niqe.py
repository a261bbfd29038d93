"""NIQE (Mittal et al. 2013, "Making a 'Completely Blind' Image Quality Analyzer") as BasicSR's `calculate_niqe`
computes it, which follows LIVE's MATLAB `niqe.m`; lower is better, numpy float64.

Steps: the BT.601 luma Y of the uint8 RGB image (as BasicSR's `bgr2ycbcr(y_only=True)` computes it, rounded),
`crop_border` pixels removed from every side, the image cut to whole 96×96 blocks; at two scales (the second made by
MATLAB bicubic `imresize(0.5)`): MSCN coefficients with the 7×7 Gaussian window, per block 18 features (a GGD fit of
the coefficients and AGGD fits of their products with 4 neighbours, by moment matching on a grid of shapes 0.2 to
10 in steps of 0.001); then the Mahalanobis-like distance between the multivariate Gaussian of all block features and
the pristine model (`data/niqe_pris_params.npz`, see `data/PROVENANCE.md`).

An image needs at least two whole 96×96 blocks after cropping (at least 96×192 pixels); smaller ones raise ValueError.
"""

import functools
import importlib.resources
import warnings

import numpy as np
import scipy.ndimage
import scipy.special

from esrgan_jax.data.imresize import imresize

BLOCK_SIZE = 96
MIN_BLOCKS = 2  # the covariance of one block's features is undefined
_SHAPE_GRID = np.arange(0.2, 10.001, 0.001)  # candidate GGD/AGGD shape parameters alpha
_NEIGHBOURS = ((0, 1), (1, 0), (1, 1), (1, -1))  # horizontal, vertical and the two diagonal products
# Row of MATLAB rgb2ycbcr for Y on BGR in [0, 1], in BasicSR's order (blue first).
_Y_WEIGHTS_BGR = np.array([24.966, 128.553, 65.481])


@functools.cache
def pristine_model() -> dict[str, np.ndarray]:
  """{'mu_pris_param': 1x36, 'cov_pris_param': 36x36, 'gaussian_window': 7x7} float64 (read-only)."""
  with importlib.resources.files('esrgan_jax.inference').joinpath('data/niqe_pris_params.npz').open('rb') as f:
    arrays = dict(np.load(f))
  for array in arrays.values():
    array.flags.writeable = False
  return arrays


@functools.cache
def _shape_ratios() -> np.ndarray:
  """Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a)) over `_SHAPE_GRID`: increasing, so fits can search it by bisection."""
  inv = 1.0 / _SHAPE_GRID
  ratios = scipy.special.gamma(2 * inv) ** 2 / (scipy.special.gamma(inv) * scipy.special.gamma(3 * inv))
  ratios.flags.writeable = False
  return ratios


def nearest_shape_index(targets: np.ndarray) -> np.ndarray:
  """Index of the grid ratio nearest to each target (the first on ties, 0 for NaN, like np.argmin over the grid)."""
  ratios = _shape_ratios()
  right = np.clip(np.searchsorted(ratios, targets), 1, ratios.size - 1)
  left = right - 1
  take_right = (ratios[right] - targets) ** 2 < (ratios[left] - targets) ** 2
  return np.where(np.isnan(targets), 0, np.where(take_right, right, left))


def aggd_fit(samples: np.ndarray) -> tuple[float, float, float]:
  """Moment-matching AGGD fit of float32 `samples` (any shape) -> (alpha, beta_left, beta_right).

  Sums run in float32 as in BasicSR. Samples without negative (or positive) values give a NaN beta on that side and
  alpha 0.2, as in BasicSR.
  """
  samples = samples.ravel()
  with np.errstate(invalid='ignore', divide='ignore'):
    left_std = np.sqrt(np.mean(samples[samples < 0] ** 2)) if (samples < 0).any() else np.float32(np.nan)
    right_std = np.sqrt(np.mean(samples[samples > 0] ** 2)) if (samples > 0).any() else np.float32(np.nan)
    gamma_hat = left_std / right_std
    r_hat = np.mean(np.abs(samples)) ** 2 / np.mean(samples**2)
    r_hat_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
  alpha = _SHAPE_GRID[nearest_shape_index(np.float64(r_hat_norm))]
  scale = np.sqrt(scipy.special.gamma(1 / alpha) / scipy.special.gamma(3 / alpha))
  return float(alpha), float(left_std * scale), float(right_std * scale)


def block_features(block: np.ndarray) -> list[float]:
  """The 18 NIQE features of one float32 MSCN block [h, w]."""
  alpha, beta_l, beta_r = aggd_fit(block)
  features = [alpha, (beta_l + beta_r) / 2]
  for shift in _NEIGHBOURS:
    alpha, beta_l, beta_r = aggd_fit(block * np.roll(block, shift, axis=(0, 1)))
    mean = (beta_r - beta_l) * scipy.special.gamma(2 / alpha) / scipy.special.gamma(1 / alpha)
    features += [alpha, mean, beta_l, beta_r]
  return features


def mscn(luma: np.ndarray, window: np.ndarray) -> np.ndarray:
  """Mean-subtracted contrast-normalised coefficients of float32 HW luma on the 0-255 scale (edges replicated).

  float32 like BasicSR: in flat areas the coefficients are rounding noise whose signs the AGGD fits count, so float64
  would change NIQE by up to ~0.4 on smooth images.
  """
  mu = scipy.ndimage.convolve(luma, window, mode='nearest')
  sigma = np.sqrt(np.abs(scipy.ndimage.convolve(np.square(luma), window, mode='nearest') - np.square(mu)))
  return (luma - mu) / (sigma + 1)


def _features(mscn_image: np.ndarray, size: int, rows: int, cols: int) -> np.ndarray:
  """[rows * cols, 18] features of the size x size blocks of HW coefficients, column by column (BasicSR's order)."""
  return np.array(
    [
      block_features(mscn_image[r * size : (r + 1) * size, c * size : (c + 1) * size])
      for c in range(cols)
      for r in range(rows)
    ]
  )


def niqe_luma(image: np.ndarray) -> np.ndarray:
  """uint8 HW3 RGB (or HW gray, used as is) -> float32 HW luma in integer levels, as BasicSR rounds it for NIQE.

  BasicSR computes Y in float32 and rounds half to even (numpy's round), so this does too: ties are possible.
  """
  image = np.asarray(image)
  if image.dtype != np.uint8:
    raise ValueError(f'NIQE expects a uint8 image, got dtype {image.dtype}; convert with esrgan_jax.data.quantize.')
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.ndim == 2:
    return image.astype(np.float32)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f'NIQE expects an HW or HW3 image, got shape {image.shape}.')
  bgr = image[..., ::-1].astype(np.float32) / np.float32(255)
  y = ((np.dot(bgr, _Y_WEIGHTS_BGR) + 16.0) / 255.0).astype(np.float32) * np.float32(255)
  return np.round(y)


def num_blocks(height: int, width: int, crop_border: int = 0) -> int:
  """How many whole 96x96 blocks NIQE scores in an image of this size."""
  return max(height - 2 * crop_border, 0) // BLOCK_SIZE * (max(width - 2 * crop_border, 0) // BLOCK_SIZE)


def niqe(image: np.ndarray, crop_border: int = 0) -> float:
  """NIQE of a uint8 HW3 RGB (or HW gray) image with `crop_border` pixels ignored on every side; lower is better."""
  luma = niqe_luma(image)
  height, width = luma.shape
  if crop_border < 0:
    raise ValueError(f'crop_border must be >= 0, got {crop_border}.')
  if num_blocks(height, width, crop_border) < MIN_BLOCKS:
    raise ValueError(
      f'NIQE needs at least {MIN_BLOCKS} whole {BLOCK_SIZE}x{BLOCK_SIZE} blocks, but a {height}x{width} image with '
      f'crop_border {crop_border} has {num_blocks(height, width, crop_border)}; score larger images.'
    )
  if crop_border:
    luma = luma[crop_border:-crop_border, crop_border:-crop_border]
  rows, cols = luma.shape[0] // BLOCK_SIZE, luma.shape[1] // BLOCK_SIZE
  luma = luma[: rows * BLOCK_SIZE, : cols * BLOCK_SIZE]
  window = pristine_model()['gaussian_window']
  half = imresize(luma / np.float32(255), 0.5).astype(np.float32) * np.float32(255)
  features = np.concatenate(
    [_features(mscn(luma, window), BLOCK_SIZE, rows, cols), _features(mscn(half, window), BLOCK_SIZE // 2, rows, cols)],
    axis=1,
  )
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', RuntimeWarning)  # a feature NaN in every block stays NaN
    mu = np.nanmean(features, axis=0)
  cov = np.cov(features[~np.isnan(features).any(axis=1)], rowvar=False)
  model = pristine_model()
  diff = model['mu_pris_param'][0] - mu
  return float(np.sqrt(diff @ np.linalg.pinv((model['cov_pris_param'] + cov) / 2) @ diff))
