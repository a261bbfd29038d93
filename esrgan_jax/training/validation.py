"""Validation metrics of a training stage and the choice of its best checkpoint.

Every stage logs the Y-PSNR and SSIM (crop = scale) of the EMA generator on the whole validation images; a stage
with `val_niqe` (the GAN stage by default) also logs NIQE (lower is better), the mean as `val_niqe` and per image as
`val_niqe/NAME`, to TensorBoard and `validation.jsonl`. NIQE needs at least two whole 96x96 blocks per image after
the crop, so it is skipped (with a warning) when a validation image is smaller, unless the stage's `best_metric` is
`val_niqe`, which then fails with ValueError. `best_metric` picks the checkpoint kept as best:
`val_psnr` (higher is better), `val_niqe`, `val_lpips` or `val_dists` (lower is better). A stage whose `val_lpips`
names LPIPS weights (a file of `python -m esrgan_jax.convert lpips`, or 'alex'/'vgg' in the weights dir) also logs
LPIPS (RGB); one whose `val_dists` names DISTS weights ('default': dists.msgpack in the weights dir) logs DISTS.
With `val_data.degradation` 'realesrgan' the LR inputs are degraded as in training (`degrade_images`, a fixed key):
there NIQE of the output is the measure that matters, PSNR/SSIM against the original HR a secondary one.
"""

import json
import os
from collections.abc import Sequence
from typing import Any

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from esrgan_jax.data import storage
from esrgan_jax.degradations import pipeline
from esrgan_jax.inference import evaluation, niqe, quality
from esrgan_jax.inference.dists_metric import dists_metric, load_dists
from esrgan_jax.inference.lpips_metric import load_lpips, lpips_metric

BEST_METRICS = {'val_psnr': True, 'val_niqe': False, 'val_lpips': False, 'val_dists': False}  # name -> higher is better
PER_IMAGE = ('niqe', 'lpips', 'dists')  # metrics also logged per validation image


def metric_names(stage: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The quality metrics (`esrgan_jax.inference.quality` names) a stage's validation computes."""
  optional = (('niqe', stage.val_niqe), ('lpips', stage.val_lpips), ('dists', stage.val_dists))
  return quality.DISTORTION + tuple(name for name, on in optional if on)


def available_metrics(stage: ml_collections.ConfigDict) -> dict[str, quality.Metric]:
  """`quality.METRICS`, plus LPIPS and DISTS with the weights `stage.val_lpips` / `val_dists` name (loaded once per
  stage), if any."""
  available = dict(quality.METRICS)
  if stage.val_lpips:
    available['lpips'] = lpips_metric(load_lpips(stage.val_lpips))
  if stage.val_dists:
    available['dists'] = dists_metric(load_dists(stage.val_dists))
  return available


def usable_metrics(
  names: Sequence[str], val_images: list[dict], scale: int, stage_name: str, best_metric: str
) -> tuple[str, ...]:
  """`names` without NIQE if a validation image is too small for it (warning), ValueError if it is the best metric."""
  small = [item['name'] for item in val_images if niqe.num_blocks(*item['hr'].shape[:2], scale) < niqe.MIN_BLOCKS]
  if 'niqe' not in names or not small:
    return tuple(names)
  message = (
    f'NIQE needs at least {niqe.MIN_BLOCKS} whole {niqe.BLOCK_SIZE}x{niqe.BLOCK_SIZE} blocks per image after the '
    f'{scale}-pixel crop; validation images {", ".join(small[:5])} are smaller'
  )
  if best_metric == 'val_niqe':
    raise ValueError(f'config.{stage_name}.best_metric is val_niqe, but {message}. Use larger validation images.')
  logging.warning('%s: stage %s validates without NIQE.', message, stage_name)
  return tuple(n for n in names if n != 'niqe')


def evaluate(
  sr_fn: evaluation.SrFn,
  val_images: list[dict],
  scale: int,
  names: Sequence[str],
  available: dict[str, quality.Metric] | None = None,
) -> tuple[dict[str, float], dict[str, float], list[np.ndarray]]:
  """({'val_NAME': mean}, {'val_NAME/IMAGE': score} for PER_IMAGE metrics, the uint8 SR images); `available`:
  the metrics to choose `names` from (default `quality.METRICS`; see `available_metrics`)."""
  selected = quality.select(names, available)
  rows, outputs = evaluation.score_pairs(sr_fn, val_images, scale, metrics=selected)
  means = {f'val_{k}': v for k, v in evaluation.mean_scores(rows, selected).items()}
  per_image = {
    f'val_{name}/{item["name"]}': row[name]
    for name in PER_IMAGE
    if name in names
    for item, row in zip(val_images, rows)
  }
  return means, per_image, outputs


_degrade = jax.jit(pipeline.degrade, static_argnums=2)


def degrade_images(val_images: list[dict], key: jax.Array, options: pipeline.DegradationOptions) -> list[dict]:
  """`val_images` with each 'lr' replaced by Real-ESRGAN's degradation of its 'hr' (image i from fold_in(key, i),
  so every run and stage validates on the same inputs); 'hr' stays the reference. One compilation per image size."""
  return [
    {**item, 'lr': np.asarray(_degrade(jax.random.fold_in(key, i), item['hr'], options))}
    for i, item in enumerate(val_images)
  ]


def best_checkpoints(best_metric: str) -> ocp.checkpoint_managers.BestN:
  """Orbax policy keeping the one checkpoint best by `best_metric` (a key of BEST_METRICS)."""
  higher_is_better = BEST_METRICS[best_metric]
  return ocp.checkpoint_managers.BestN(
    get_metric_fn=lambda m: m[best_metric] if higher_is_better else -m[best_metric],
    n=1,
    keep_checkpoints_without_metrics=False,
  )


def append_record(path: str | os.PathLike, step: int, values: dict[str, Any]) -> None:
  """Appends {'step', **values} as one JSON line to `path` (validation.jsonl; a URL too)."""
  storage.append_text(path, json.dumps({'step': step, **values}) + '\n')
