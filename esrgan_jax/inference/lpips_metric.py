"""LPIPS as a metric on numpy images: `load_lpips(path)(a, b)`, and the SR-vs-HR score `evaluate` reports.

Images are RGB, HW3 (one pair) or NHW3 (a batch of pairs), uint8 in [0, 255] or float in [0, 1]. The network runs
in float32 under one `jax.jit` per module and image shape; the params move to the device once.
"""

import functools
import os
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import numpy as np

from esrgan_jax.inference import quality
from esrgan_jax.weights import lpips_weights

LpipsFn = Callable[[np.ndarray, np.ndarray], Any]  # (a, b) -> float (HW3) or [N] float32 (NHW3)


def _to_unit(image: np.ndarray, name: str, metric: str) -> np.ndarray:
  """uint8 or float [0, 1], HW3 or NHW3 -> float32 NHW3 in [0, 1]."""
  image = np.asarray(image)
  if image.ndim not in (3, 4) or image.shape[-1] != 3:
    raise ValueError(f'{metric} expects RGB images HW3 or NHW3, got {name} of shape {image.shape}.')
  if image.dtype == np.uint8:
    image = image.astype(np.float32) / 255.0
  elif not np.issubdtype(image.dtype, np.floating):
    raise ValueError(f'{metric} expects uint8 or float images, got {name} of dtype {image.dtype}.')
  return image.astype(np.float32).reshape((-1, *image.shape[-3:]))


@functools.partial(jax.jit, static_argnums=0)
def _distance(module: nn.Module, params: Any, a: jax.Array, b: jax.Array) -> jax.Array:
  return module.apply({'params': params}, a, b)


def lpips_fn(module: nn.Module, params: Any, metric: str = 'LPIPS') -> LpipsFn:
  """The LPIPS distance of `module` (an `esrgan_jax.models.lpips.LPIPS`, or another (x0, x1) -> [B] distance such as
  `esrgan_jax.models.dists.DISTS`, named `metric` in errors) with `params`, on numpy images (see the module
  docstring): a float for one HW3 pair, [N] float32 for NHW3 batches."""
  params = jax.device_put(params)

  def distance(a: np.ndarray, b: np.ndarray) -> Any:
    if np.shape(a) != np.shape(b):
      raise ValueError(f'{metric} compares images of equal shape, got {np.shape(a)} and {np.shape(b)}.')
    d = np.asarray(_distance(module, params, _to_unit(a, 'a', metric), _to_unit(b, 'b', metric)))
    return float(d[0]) if np.ndim(a) == 3 else d

  return distance


def load_lpips(path: str | os.PathLike) -> LpipsFn:
  """`lpips_fn` of the file written by `python -m esrgan_jax.convert lpips` (or 'alex' / 'vgg': the converted file of
  that backbone in the weights directory, `esrgan_jax.weights.locations`)."""
  return lpips_fn(*lpips_weights.load_lpips(path))


def score_lpips(distance: LpipsFn, sr: np.ndarray, hr: np.ndarray, crop_border: int) -> float:
  """LPIPS of an SR image against its HR image (uint8 HW3) on RGB with `crop_border` pixels cut from every side,
  as PSNR/SSIM are."""
  if crop_border:
    sr, hr = (x[crop_border:-crop_border, crop_border:-crop_border] for x in (sr, hr))
  return distance(sr, hr)


def lpips_metric(distance: LpipsFn) -> quality.Metric:
  """LPIPS as a `quality.Metric` (full reference, lower is better) for `evaluate` and training validation."""
  return quality.Metric('lpips', 'LPIPS', True, False, lambda sr, hr, crop, y: score_lpips(distance, sr, hr, crop), 4)
