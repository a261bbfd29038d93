"""Tests for esrgan_jax.training.validation: validation metrics (NIQE), best-checkpoint choice, validation.jsonl."""

import json

import numpy as np
import orbax.checkpoint as ocp
import pytest
from helpers import converted_lpips
from tiny_config import get_config as tiny_config

from esrgan_jax.data.demo_data import load_demo_image
from esrgan_jax.data.imresize import imresize
from esrgan_jax.data.quantize import quantize
from esrgan_jax.inference import evaluation, niqe
from esrgan_jax.inference.lpips_metric import load_lpips
from esrgan_jax.training import config_checks, train, validation


def _pair(name, hr):
  hr = hr[: hr.shape[0] // 4 * 4, : hr.shape[1] // 4 * 4]
  return {'name': name, 'lr': quantize(imresize(hr, 1 / 4)).astype(np.float32) / 255, 'hr': hr.astype(np.float32) / 255}


def test_gan_stage_validates_with_niqe_and_best_metric_is_checked():
  config = tiny_config()
  assert validation.metric_names(config.psnr) == ('psnr', 'ssim')
  assert validation.metric_names(config.gan) == ('psnr', 'ssim', 'niqe')
  config.gan.best_metric = 'val_niqe'
  config_checks.check(config)
  for stage, metric, message in [
    ('gan', 'val_fid', r"config.gan.best_metric must be one of \('val_psnr', 'val_niqe', 'val_lpips', 'val_dists'\)"),
    ('psnr', 'val_niqe', 'config.psnr.best_metric is val_niqe.*set config.psnr.val_niqe=True'),
    ('gan', 'val_lpips', 'does not validate with lpips'),
  ]:
    config = tiny_config()
    config[stage].best_metric = metric
    with pytest.raises(ValueError, match=message):
      config_checks.check(config)


def test_evaluate_logs_niqe_mean_and_per_image():
  pairs = [_pair('chelsea', load_demo_image('chelsea')), _pair('coffee', load_demo_image('coffee'))]
  means, per_image, outputs = validation.evaluate(evaluation.bicubic_sr_fn(4), pairs, 4, ('psnr', 'ssim', 'niqe'))
  expected = [niqe.niqe(out, crop_border=4) for out in outputs]
  assert per_image == {'val_niqe/chelsea': expected[0], 'val_niqe/coffee': expected[1]}
  assert means['val_niqe'] == pytest.approx(np.mean(expected)) and set(means) == {'val_psnr', 'val_ssim', 'val_niqe'}
  assert train.bicubic_metrics(pairs, 4) == {k: means[k] for k in ('val_psnr', 'val_ssim')}


def test_stage_with_lpips_weights_logs_lpips_and_may_pick_the_best_by_it(tmp_path):
  config = tiny_config()
  config.gan.val_lpips = str(converted_lpips(tmp_path))
  config.gan.best_metric = 'val_lpips'
  config_checks.check(config)
  names = validation.metric_names(config.gan)
  assert names[-1] == 'lpips'
  pairs = [_pair('chelsea', load_demo_image('chelsea')[:64, :64]), _pair('coffee', load_demo_image('coffee')[:64, :64])]
  means, per_image, outputs = validation.evaluate(
    evaluation.bicubic_sr_fn(4), pairs, 4, ('psnr', 'lpips'), validation.available_metrics(config.gan)
  )
  distance = load_lpips(config.gan.val_lpips)
  expected = [distance(out[4:-4, 4:-4], pair['hr'][4:-4, 4:-4]) for out, pair in zip(outputs, pairs)]
  assert per_image == {'val_lpips/chelsea': pytest.approx(expected[0]), 'val_lpips/coffee': pytest.approx(expected[1])}
  assert means['val_lpips'] == pytest.approx(np.mean(expected)) and min(expected) > 0


def test_small_validation_images_skip_niqe_unless_it_picks_the_best(caplog):
  pairs = [_pair('big', load_demo_image('chelsea')), _pair('tiny', load_demo_image('chelsea')[:100, :100])]
  names = ('psnr', 'ssim', 'niqe')
  assert validation.usable_metrics(names, pairs[:1], 4, 'gan', 'val_psnr') == names
  assert validation.usable_metrics(names, pairs, 4, 'gan', 'val_psnr') == ('psnr', 'ssim')
  assert 'validation images tiny are smaller' in caplog.text
  with pytest.raises(ValueError, match='best_metric is val_niqe, but NIQE needs at least 2 whole 96x96 blocks'):
    validation.usable_metrics(names, pairs, 4, 'gan', 'val_niqe')


@pytest.mark.parametrize('metric, values, kept', [('val_psnr', (30, 35, 31), 2), ('val_niqe', (5, 3, 4), 2)])
def test_best_checkpoint_follows_the_metric_direction(tmp_path, metric, values, kept):
  config = tiny_config()
  config.keep_checkpoints = 1
  manager = train._checkpoint_manager(tmp_path, config, metric)  # pylint: disable=protected-access
  for step, value in enumerate(values, 1):
    manager.save(
      step, args=ocp.args.Composite(state=ocp.args.StandardSave({'x': np.full(2, step)})), metrics={metric: value}
    )
    manager.wait_until_finished()
  assert manager.all_steps() == [kept, len(values)]


def test_append_record_writes_json_lines(tmp_path):
  validation.append_record(tmp_path / 'v.jsonl', 3, {'val_niqe': 4.5, 'val_niqe/a': 4.0})
  validation.append_record(tmp_path / 'v.jsonl', 6, {'val_niqe': 4.0})
  lines = (tmp_path / 'v.jsonl').read_text().splitlines()
  assert [json.loads(line) for line in lines] == [
    {'step': 3, 'val_niqe': 4.5, 'val_niqe/a': 4.0},
    {'step': 6, 'val_niqe': 4.0},
  ]
