"""DISTS as a metric on numpy images: `load_dists(path)(a, b)`, and the SR-vs-HR score `evaluate` and training
validation report (RGB, `crop_border` pixels cut from every side, as LPIPS). Images as `lpips_metric` takes them."""

import os

from esrgan_jax.inference import quality
from esrgan_jax.inference.lpips_metric import LpipsFn, lpips_fn, score_lpips
from esrgan_jax.weights import dists_weights


def load_dists(path: str | os.PathLike | None = None) -> LpipsFn:
  """The DISTS distance with the weights of `python -m esrgan_jax.convert dists` (`path`; None or 'default':
  dists.msgpack in the weights directory)."""
  return lpips_fn(*dists_weights.load_dists(path), metric='DISTS')


def dists_metric(distance: LpipsFn) -> quality.Metric:
  """DISTS as a `quality.Metric` (full reference, lower is better)."""
  return quality.Metric('dists', 'DISTS', True, False, lambda sr, hr, crop, y: score_lpips(distance, sr, hr, crop), 4)
