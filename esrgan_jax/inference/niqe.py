"""NIQE (Mittal et al. 2013, "Making a 'Completely Blind' Image Quality Analyzer") as BasicSR's `calculate_niqe`
computes it, which follows LIVE's MATLAB `niqe.m`; lower is better; numpy, in float32 where BasicSR rounds to float32.

Steps: the BT.601 luma Y of the uint8 RGB image (as BasicSR's `bgr2ycbcr(y_only=True)` computes it, rounded),
`crop_border` pixels removed from every side, the image cut to whole 96×96 blocks; at two scales (the second made by
MATLAB bicubic `imresize(0.5)` in float32, rounded bit for bit as BasicSR's, see `half_scale`): MSCN coefficients with
the 7×7 Gaussian window, per block 18 features (a GGD fit of the coefficients and AGGD fits of their products with 4
neighbours, by moment matching on a grid of shapes 0.2 to 10 in steps of 0.001); then the Mahalanobis-like distance
between the multivariate Gaussian of all block features and the pristine model (`data/niqe_pris_params.npz`, see
`data/PROVENANCE.md`).

An image needs at least two whole 96×96 blocks after cropping (at least 96×192 pixels); smaller ones raise ValueError.

Agreement: BasicSR 1.4.2's `calculate_niqe` on 13 scikit-image images, crop 0 and 4: within 2e-13. Set14 `baboon`:
5.7295726 (BasicSR run here the same; BasicSR's docstring 5.7295763; MATLAB R2021a `niqe` 5.72957338).
"""

import functools
import importlib.resources
import warnings

import numpy as np
import scipy.ndimage
import scipy.special

from esrgan_jax.data.imresize import output_length, resize_taps

BLOCK_SIZE = 96
MIN_BLOCKS = 2  # the covariance of one block's features is undefined
_SHAPE_GRID = np.arange(0.2, 10.001, 0.001)  # candidate GGD/AGGD shape parameters alpha
_NEIGHBOURS = ((0, 1), (1, 0), (1, 1), (1, -1))  # horizontal, vertical and the two diagonal products
# Row of MATLAB rgb2ycbcr for Y on BGR in [0, 1], in BasicSR's order (blue first).
_Y_WEIGHTS_BGR = np.array([24.966, 128.553, 65.481])
# How BasicSR's torch float32 half-scale resize adds each output pixel's 8 products (taps 0-7, left to right), as nested
# pairs: torch `mv` on MKL's sgemv (torch 2.13, MKL 2024.2, AVX2 on AMD EPYC), measured bit for bit. Along H in tap
# order; along W MKL's kernel picks the order from the memory alignment, which for NIQE's widths alternates with the
# output column. Products are rounded to float32 before adding (no fused multiply-add).
_HEIGHT_ORDER = functools.reduce(lambda tree, tap: (tree, tap), range(1, 8), 0)  # (((0, 1), 2), ...): left to right
_WIDTH_ORDERS = (  # even, odd output columns
  ((((((0, 1), 2), 4), (3, 5)), 6), 7),
  ((((((0, 1), 2), 3), 4), 6), (5, 7)),
)


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


def _sum_in_order(products: list[np.ndarray], tree: int | tuple) -> np.ndarray:
  """Sum of `products` (same-shape float32 arrays) added pairwise as the nested pairs of indices in `tree` say."""
  if isinstance(tree, int):
    return products[tree]
  return _sum_in_order(products, tree[0]) + _sum_in_order(products, tree[1])


def _halve_rows(x: np.ndarray, orders: tuple) -> np.ndarray:
  """MATLAB bicubic halving of the rows of float32 [h, w]; output row i summed in order `orders[i % len(orders)]`."""
  indices, weights = resize_taps(x.shape[0], output_length(x.shape[0], 0.5), 0.5)
  reach = weights.any(axis=0)  # the 8 taps within the kernel (the first and last weigh 0)
  indices, weights = indices[:, reach], weights[:, reach].astype(np.float32)  # exact: multiples of 1/256
  out = np.empty((indices.shape[0], x.shape[1]), np.float32)
  for phase, tree in enumerate(orders):
    rows = slice(phase, None, len(orders))
    products = [x[indices[rows, tap]] * weights[rows, tap, None] for tap in range(indices.shape[1])]
    out[rows] = _sum_in_order(products, tree)
  return out


def half_scale(luma: np.ndarray) -> np.ndarray:
  """MATLAB bicubic `imresize(0.5)` of float32 HW luma in [0, 255] rounded as BasicSR 1.4.2's NIQE rounds it.

  Args:
    luma: [h, w] luma levels (used as float32) with h and w multiples of 8, as NIQE's whole 96-pixel blocks are, so
      that the measured orders apply (MKL handles leftover rows and other alignments differently).

  Returns:
    float32 [h / 2, w / 2] in [0, 255] (bicubic overshoot kept).

  BasicSR divides by 255, resizes in torch float32 (float32 products of the input and the weights, summed in float32
  along H, rounded, then along W) and multiplies by 255; this does the same in numpy, adding in the orders above, so
  the result is bit-identical to BasicSR run where the orders were measured. Any other order (float64, or a plain
  left-to-right sum) changes a third to a half of the pixels in the last bit and NIQE by up to 2e-3, because the AGGD
  fits pick shapes from a grid. BasicSR's own value moves as much where MKL takes another kernel (another CPU, or
  `MKL_CBWR=AVX2` on the same machine: up to 6e-4 on these images).
  """
  if luma.ndim != 2 or luma.shape[0] % 8 or luma.shape[1] % 8:
    raise ValueError(f'half_scale expects HW luma with sides multiples of 8, got shape {luma.shape}; crop it first.')
  x = _halve_rows(luma.astype(np.float32) / np.float32(255), (_HEIGHT_ORDER,))
  return _halve_rows(np.ascontiguousarray(x.T), _WIDTH_ORDERS).T * np.float32(255)


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
  half = half_scale(luma)
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
