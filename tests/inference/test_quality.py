"""Tests for esrgan_jax.inference.quality: the metric table, selection and scoring."""

import dataclasses

import numpy as np
import pytest

from esrgan_jax.inference import metrics, niqe, quality


def _image(h, w, seed):
  return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_select_keeps_order_and_rejects_unknown_or_repeated_names():
  assert [m.name for m in quality.select('niqe, psnr')] == ['niqe', 'psnr']
  assert [m.name for m in quality.select(quality.DEFAULT)] == ['psnr', 'ssim', 'niqe']
  for names, message in [('psnr,lpips', 'lpips unknown'), ('psnr,psnr', 'distinct'), ('', 'unknown')]:
    with pytest.raises(ValueError, match=message):
      quality.select(names)


def test_directions_and_references():
  table = quality.METRICS
  assert table['psnr'].higher_is_better and table['ssim'].higher_is_better and not table['niqe'].higher_is_better
  assert [m.name for m in quality.no_reference(quality.select(quality.DEFAULT))] == ['niqe']


def test_compute_all_matches_the_metric_functions():
  sr, hr = _image(100, 200, 0), _image(100, 200, 1)
  scores = quality.compute_all(quality.select(quality.DEFAULT), sr, hr, crop_border=2, test_y_channel=False)
  assert scores == {
    'psnr': metrics.psnr(sr, hr, 2, False),
    'ssim': metrics.ssim(sr, hr, 2, False),
    'niqe': niqe.niqe(sr[2:-2, 2:-2]),
  }
  with pytest.raises(ValueError, match='psnr need an HR image'):
    quality.compute_all(quality.select('psnr,niqe'), sr, None, 0)


def test_an_extra_metric_joins_through_available():
  extra = dataclasses.replace(quality.METRICS['psnr'], name='mean', label='MEAN', compute=lambda sr, hr, c, y: 1.0)
  selected = quality.select('mean,ssim', {**quality.METRICS, 'mean': extra})
  assert quality.compute_all(selected, _image(16, 16, 2), _image(16, 16, 3), 0)['mean'] == 1.0
