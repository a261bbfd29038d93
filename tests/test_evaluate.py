"""Tests for the esrgan_jax.evaluate tool: table, CSV and JSON outputs, models and exit codes."""

import csv
import json

import jax
import numpy as np
import pytest
from helpers import converted_lpips, smooth_image, tiny_generator, write_image_set

from esrgan_jax import evaluate
from esrgan_jax.data.imresize import imresize
from esrgan_jax.data.quantize import quantize
from esrgan_jax.inference import evaluation
from esrgan_jax.inference.lpips_metric import load_lpips
from esrgan_jax.weights.model_io import load_generator, save_generator


def test_cli_bicubic_writes_table_csv_and_json(tmp_path, capsys):
  write_image_set(tmp_path / 'sets' / 'S1', {'one': smooth_image(24, 24, 3), 'two': smooth_image(32, 20, 4)})
  write_image_set(tmp_path / 'sets' / 'S2', {'three': smooth_image(28, 28, 5)})
  assert evaluate.main([str(tmp_path / 'sets'), '--bicubic', '--rgb', '--out', str(tmp_path / 'out')]) == 0
  printed = capsys.readouterr().out
  assert 'S1' in printed and 'S2' in printed and 'mean' in printed
  report = json.loads((tmp_path / 'out' / 'metrics.json').read_text())
  assert report['method'] == 'bicubic' and report['channel'] == 'RGB' and report['scale'] == 4
  direct = evaluation.evaluate_folder(tmp_path / 'sets' / 'S1', evaluation.bicubic_sr_fn(4), 4, test_y_channel=False)
  assert report['sets'][0] == direct
  with open(tmp_path / 'out' / 'metrics.csv') as f:
    rows = list(csv.DictReader(f))
  assert [(r['set'], r['image']) for r in rows] == [
    ('S1', 'one'),
    ('S1', 'two'),
    ('S1', 'mean'),
    ('S2', 'three'),
    ('S2', 'mean'),
  ]
  assert float(rows[2]['psnr']) == pytest.approx(direct['psnr'], abs=1e-4)


def test_cli_model_runs_the_generator(tmp_path, capsys):
  module, params = tiny_generator(2)
  save_generator(tmp_path / 'g.msgpack', module, params)
  hr = smooth_image(24, 20, 6)
  write_image_set(tmp_path / 'S', {'img': hr})
  loaded, loaded_params = load_generator(tmp_path / 'g.msgpack')
  sr_fn, scale = evaluation.generator_sr_fn(loaded, loaded_params), loaded.scale
  apply = jax.jit(module.apply)
  expected = evaluation.evaluate_image(hr, lambda lr: np.asarray(apply({'params': params}, lr[None]))[0], 2)
  assert scale == 2
  assert evaluation.evaluate_image(hr, sr_fn, 2) == pytest.approx(expected, rel=1e-6)
  assert evaluate.main([str(tmp_path / 'S'), '--model', str(tmp_path / 'g.msgpack'), '--out', str(tmp_path)]) == 0
  assert json.loads((tmp_path / 'metrics.json').read_text())['sets'][0]['psnr'] == pytest.approx(expected['psnr'])
  assert evaluate.main([str(tmp_path / 'S'), '--model', str(tmp_path / 'g.msgpack'), '--scale', '4']) == 2
  assert 'contradicts' in capsys.readouterr().err


def test_cli_lpips_column_scores_the_cropped_rgb_pair(tmp_path, capsys):
  lpips_file = converted_lpips(tmp_path)
  hr = {'one': smooth_image(40, 44, 7), 'two': smooth_image(44, 40, 8)}
  write_image_set(tmp_path / 'S', hr)
  argv = [str(tmp_path / 'S'), '--bicubic', '--lpips', str(lpips_file), '--out', str(tmp_path / 'out')]
  assert evaluate.main(argv) == 0
  assert 'LPIPS' in capsys.readouterr().out
  report = json.loads((tmp_path / 'out' / 'metrics.json').read_text())
  distance = load_lpips(lpips_file)
  for row in report['sets'][0]['images']:
    sr = quantize(imresize(quantize(imresize(hr[row['image']], 0.25)), 4))
    assert row['lpips'] == pytest.approx(distance(sr[4:-4, 4:-4], hr[row['image']][4:-4, 4:-4]), rel=1e-6)
    assert row['lpips'] > 0
  assert report['sets'][0]['lpips'] == pytest.approx(np.mean([r['lpips'] for r in report['sets'][0]['images']]))
  assert report['lpips'] == str(lpips_file)
  with open(tmp_path / 'out' / 'metrics.csv') as f:
    rows = list(csv.DictReader(f))
  assert float(rows[-1]['lpips']) == pytest.approx(report['sets'][0]['lpips'], abs=1e-6)
  assert evaluate.main([str(tmp_path / 'S'), '--bicubic', '--lpips', str(tmp_path / 'missing.msgpack')]) == 2
  assert 'Cannot load --lpips: LPIPS weights not found' in capsys.readouterr().err
