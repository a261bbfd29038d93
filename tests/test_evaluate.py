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
from esrgan_jax.inference import evaluation, niqe
from esrgan_jax.inference.lpips_metric import load_lpips
from esrgan_jax.weights.model_io import load_generator, save_generator


def test_cli_bicubic_writes_table_csv_and_json(tmp_path, capsys):
  write_image_set(tmp_path / 'sets' / 'S1', {'one': smooth_image(24, 24, 3), 'two': smooth_image(32, 20, 4)})
  write_image_set(tmp_path / 'sets' / 'S2', {'three': smooth_image(28, 28, 5)})
  argv = [str(tmp_path / 'sets'), '--bicubic', '--rgb', '--metrics', 'psnr,ssim', '--out', str(tmp_path / 'out')]
  assert evaluate.main(argv) == 0
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
  argv = [str(tmp_path / 'S'), '--model', str(tmp_path / 'g.msgpack'), '--metrics', 'psnr,ssim', '--out', str(tmp_path)]
  assert evaluate.main(argv) == 0
  assert json.loads((tmp_path / 'metrics.json').read_text())['sets'][0]['psnr'] == pytest.approx(expected['psnr'])
  assert evaluate.main([str(tmp_path / 'S'), '--model', str(tmp_path / 'g.msgpack'), '--scale', '4']) == 2
  assert 'contradicts' in capsys.readouterr().err


def test_cli_lpips_column_scores_the_cropped_rgb_pair(tmp_path, capsys):
  lpips_file = converted_lpips(tmp_path)
  hr = {'one': smooth_image(40, 44, 7), 'two': smooth_image(44, 40, 8)}
  write_image_set(tmp_path / 'S', hr)
  argv = [
    str(tmp_path / 'S'),
    '--bicubic',
    '--metrics',
    'psnr,ssim',
    '--lpips',
    str(lpips_file),
    '--out',
    str(tmp_path / 'out'),
  ]
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
  with pytest.raises(SystemExit):
    evaluate.main([str(tmp_path / 'S'), '--bicubic', '--lpips', str(tmp_path / 'missing.msgpack')])
  assert '--lpips: LPIPS weights not found' in capsys.readouterr().err
  with pytest.raises(SystemExit):
    evaluate.main([str(tmp_path / 'S'), '--bicubic', '--metrics', 'psnr,lpips'])
  assert 'lpips needs its weights: --lpips FILE' in capsys.readouterr().err


def test_cli_default_metrics_add_niqe_of_the_sr_image(tmp_path, capsys):
  hr = smooth_image(104, 200, 7)  # 2 whole NIQE blocks after the 4-pixel crop
  write_image_set(tmp_path / 'S', {'img': hr})
  assert evaluate.main([str(tmp_path / 'S'), '--bicubic', '--out', str(tmp_path / 'out')]) == 0
  assert 'NIQE' in capsys.readouterr().out
  report = json.loads((tmp_path / 'out' / 'metrics.json').read_text())
  assert report['metrics'] == ['psnr', 'ssim', 'niqe'] and report['reference']
  lr = quantize(imresize(hr, 1 / 4)).astype(np.float32) / 255
  expected = niqe.niqe(evaluation.bicubic_upscale(lr, 4), crop_border=4)
  assert report['sets'][0]['images'][0]['niqe'] == pytest.approx(expected, abs=1e-12)
  assert report['sets'][0]['niqe'] == report['sets'][0]['images'][0]['niqe']
  with open(tmp_path / 'out' / 'metrics.csv') as f:
    assert list(csv.DictReader(f))[1]['niqe'] == f'{expected:.6f}'


def test_cli_no_reference_scores_the_upscaled_inputs_with_niqe_alone(tmp_path):
  lr = smooth_image(26, 52, 8)
  write_image_set(tmp_path / 'LR', {'real': lr})
  assert evaluate.main([str(tmp_path / 'LR'), '--bicubic', '--no-reference', '--out', str(tmp_path / 'a')]) == 0
  report = json.loads((tmp_path / 'a' / 'metrics.json').read_text())
  assert report['metrics'] == ['niqe'] and not report['reference'] and report['crop_border'] == 4
  expected = niqe.niqe(evaluation.bicubic_upscale(lr.astype(np.float32) / 255, 4), crop_border=4)
  assert report['sets'][0]['images'][0] == {'image': 'real', 'niqe': pytest.approx(expected, abs=1e-12)}


def test_cli_no_reference_without_a_method_scores_the_images(tmp_path):
  image = smooth_image(100, 200, 9)
  write_image_set(tmp_path / 'HR', {'hr': image})
  assert evaluate.main([str(tmp_path / 'HR'), '--no-reference', '--out', str(tmp_path / 'b')]) == 0
  report = json.loads((tmp_path / 'b' / 'metrics.json').read_text())
  assert report['method'] == 'none' and report['crop_border'] == 0
  assert report['sets'][0]['niqe'] == pytest.approx(niqe.niqe(image), abs=1e-12)


def test_cli_metric_errors(tmp_path, capsys):
  write_image_set(tmp_path / 'S', {'small': smooth_image(24, 24)})
  assert evaluate.main([str(tmp_path / 'S'), '--bicubic']) == 2
  assert 'small.png: NIQE needs at least 2 whole 96x96 blocks' in capsys.readouterr().err
  for argv, message in [
    (['--bicubic', '--metrics', 'psnr,fid'], 'fid unknown'),
    (['--bicubic', '--no-reference', '--metrics', 'psnr'], 'add niqe'),
    ([], 'one of --model or --bicubic'),
  ]:
    with pytest.raises(SystemExit):
      evaluate.main([str(tmp_path / 'S'), *argv])
    assert message in capsys.readouterr().err


def test_empty_folder_is_one_line_and_exit_2(tmp_path, capsys):
  (tmp_path / 'empty').mkdir()
  assert evaluate.main([str(tmp_path / 'empty'), '--bicubic']) == 2
  err = capsys.readouterr().err
  assert err == f'Cannot evaluate: No images in {tmp_path / "empty"} or its subfolders.\n'


def test_corrupt_image_is_skipped_with_a_message_and_the_rest_scored(tmp_path, capsys):
  write_image_set(tmp_path / 'S', {'one': smooth_image(24, 24, 3), 'two': smooth_image(24, 24, 4)})
  (tmp_path / 'S' / 'bad.png').write_bytes(b'\x89PNG\r\n\x1a\n not an image')
  assert evaluate.main([str(tmp_path / 'S'), '--bicubic', '--metrics', 'psnr']) == 1
  out, err = capsys.readouterr()
  assert 'one' in out and 'two' in out and 'mean' in out
  assert f'skipped {tmp_path / "S" / "bad.png"}: PNG data truncated' in err and '--metrics' not in err
