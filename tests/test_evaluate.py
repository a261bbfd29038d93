"""Tests for esrgan_jax.evaluate: degradation/rounding/crop protocol, folder results, CLI outputs."""

import csv
import json

import jax
import numpy as np
import pytest
from helpers import tiny_generator
from PIL import Image

from esrgan_jax import evaluate
from esrgan_jax.data.imresize import imresize
from esrgan_jax.data.quantize import quantize
from esrgan_jax.inference import evaluation, metrics, niqe, quality
from esrgan_jax.weights.model_io import load_generator, save_generator


def _hr(h, w, seed=0):
  """A smooth random uint8 image (a blurred pattern, so bicubic SR is meaningful)."""
  noise = np.random.default_rng(seed).random((h // 4 + 2, w // 4 + 2, 3))
  return np.clip(np.round(imresize(noise, output_shape=(h, w)) * 255), 0, 255).astype(np.uint8)


def test_quantize_rounds_half_away_from_zero_and_saturates():
  np.testing.assert_array_equal(quantize(np.array([0.5, 1.5, 2.5, 254.49, -3.0, 300.0])), [1, 2, 3, 254, 0, 255])


def test_lr_is_modcropped_bicubic_rounded_to_uint8():
  hr = _hr(27, 30)
  seen = []

  def sr_fn(lr):
    seen.append(lr)
    return imresize(lr, 4)

  evaluation.evaluate_image(hr, sr_fn, 4)
  lr = seen[0]
  assert lr.shape == (6, 7, 3) and lr.dtype == np.float32
  expected = np.clip(np.floor(imresize(hr[:24, :28].astype(np.float64), 0.25) + 0.5), 0, 255)
  np.testing.assert_array_equal(np.round(lr * 255), expected)
  np.testing.assert_allclose(lr * 255, expected, atol=1e-4)  # exactly on uint8 levels


def test_bicubic_scores_follow_the_protocol():
  hr = _hr(32, 40)
  lr = quantize(imresize(hr, 0.25))
  sr = quantize(imresize(lr, 4))
  scores = evaluation.evaluate_image(hr, evaluation.bicubic_sr_fn(4), 4)
  assert scores['psnr'] == pytest.approx(metrics.psnr(sr, hr, 4), rel=1e-12)
  assert scores['ssim'] == pytest.approx(metrics.ssim(sr, hr, 4), rel=1e-12)
  rgb = evaluation.evaluate_image(hr, evaluation.bicubic_sr_fn(4), 4, test_y_channel=False)
  assert rgb['psnr'] == pytest.approx(metrics.psnr(sr, hr, 4, test_y_channel=False), rel=1e-12)


def test_border_of_scale_pixels_is_ignored_and_output_rounded():
  hr = _hr(24, 24).astype(np.int64)
  sr = np.clip(hr + 3, 0, 255)
  sr[:4], sr[-4:], sr[:, :4], sr[:, -4:] = 0, 0, 0, 0  # garbage only in the 4-pixel border
  sr_fn = lambda lr: (sr + 0.4) / 255.0  # +0.4 disappears when rounded to uint8
  interior = slice(4, -4), slice(4, -4)
  mse = np.mean((sr[interior] - hr[interior]) ** 2.0)
  scores = evaluation.evaluate_image(hr.astype(np.uint8), sr_fn, 4, test_y_channel=False)
  assert scores['psnr'] == pytest.approx(10 * np.log10(255**2 / mse))
  assert evaluation.evaluate_image(hr.astype(np.uint8), sr_fn, 4, test_y_channel=False, crop_border=2)['psnr'] < 20


def test_perfect_sr_scores_inf_and_one():
  hr = _hr(24, 20)
  scores = evaluation.evaluate_image(hr, lambda lr: hr / 255.0 + 0.3 / 255, 4)
  assert scores == {'psnr': float('inf'), 'ssim': pytest.approx(1.0)}


def test_modcrop_override_and_wrong_scale():
  hr = _hr(30, 30)
  shapes = []
  evaluation.evaluate_image(hr, lambda lr: shapes.append(lr.shape) or imresize(lr, 2), 2, modcrop_to=12)
  assert shapes == [(12, 12, 3)]
  with pytest.raises(ValueError, match='scale'):
    evaluation.evaluate_image(hr, lambda lr: imresize(lr, 2), 4)


def _write_set(folder, images):
  folder.mkdir(parents=True)
  for name, image in images.items():
    Image.fromarray(image).save(folder / f'{name}.png')
  return folder


def test_evaluate_folder_gray_counts_as_rgb_and_means(tmp_path):
  rgb, gray = _hr(24, 28, 1), _hr(28, 24, 2)[..., 0]
  folder = _write_set(tmp_path / 'Tiny', {'b_rgb': rgb, 'a_gray': gray})
  (folder / 'notes.txt').write_text('not an image')
  result = evaluation.evaluate_folder(folder, evaluation.bicubic_sr_fn(4), 4)
  assert result['set'] == 'Tiny' and [r['image'] for r in result['images']] == ['a_gray', 'b_rgb']
  gray_rgb = np.repeat(gray[..., None], 3, axis=-1)
  assert result['images'][0]['psnr'] == evaluation.evaluate_image(gray_rgb, evaluation.bicubic_sr_fn(4), 4)['psnr']
  assert result['psnr'] == pytest.approx(np.mean([r['psnr'] for r in result['images']]))
  assert result['ssim'] == pytest.approx(np.mean([r['ssim'] for r in result['images']]))


def test_find_sets_single_and_parent_layouts(tmp_path):
  a = _write_set(tmp_path / 'bench' / 'SetA', {'x': _hr(8, 8)})
  b = _write_set(tmp_path / 'bench' / 'SetB', {'y': _hr(8, 8)})
  (tmp_path / 'bench' / 'empty').mkdir()
  assert evaluation.find_sets([a]) == [a]
  assert evaluation.find_sets([tmp_path / 'bench']) == [a, b]
  with pytest.raises(FileNotFoundError, match='No images'):
    evaluation.find_sets([tmp_path / 'bench' / 'empty'])


def test_cli_bicubic_writes_table_csv_and_json(tmp_path, capsys):
  _write_set(tmp_path / 'sets' / 'S1', {'one': _hr(24, 24, 3), 'two': _hr(32, 20, 4)})
  _write_set(tmp_path / 'sets' / 'S2', {'three': _hr(28, 28, 5)})
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
  hr = _hr(24, 20, 6)
  _write_set(tmp_path / 'S', {'img': hr})
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


def test_cli_default_metrics_add_niqe_of_the_sr_image(tmp_path, capsys):
  hr = _hr(104, 200, 7)  # 2 whole NIQE blocks after the 4-pixel crop
  _write_set(tmp_path / 'S', {'img': hr})
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
  lr = _hr(26, 52, 8)
  _write_set(tmp_path / 'LR', {'real': lr})
  assert evaluate.main([str(tmp_path / 'LR'), '--bicubic', '--no-reference', '--out', str(tmp_path / 'a')]) == 0
  report = json.loads((tmp_path / 'a' / 'metrics.json').read_text())
  assert report['metrics'] == ['niqe'] and not report['reference'] and report['crop_border'] == 4
  expected = niqe.niqe(evaluation.bicubic_upscale(lr.astype(np.float32) / 255, 4), crop_border=4)
  assert report['sets'][0]['images'][0] == {'image': 'real', 'niqe': pytest.approx(expected, abs=1e-12)}


def test_cli_no_reference_without_a_method_scores_the_images(tmp_path):
  image = _hr(100, 200, 9)
  _write_set(tmp_path / 'HR', {'hr': image})
  assert evaluate.main([str(tmp_path / 'HR'), '--no-reference', '--out', str(tmp_path / 'b')]) == 0
  report = json.loads((tmp_path / 'b' / 'metrics.json').read_text())
  assert report['method'] == 'none' and report['crop_border'] == 0
  assert report['sets'][0]['niqe'] == pytest.approx(niqe.niqe(image), abs=1e-12)


def test_cli_metric_errors(tmp_path, capsys):
  _write_set(tmp_path / 'S', {'small': _hr(24, 24)})
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


def test_folder_without_reference_rejects_reference_metrics(tmp_path):
  _write_set(tmp_path / 'S', {'x': _hr(100, 200)})
  with pytest.raises(ValueError, match='x.png: psnr need an HR image'):
    evaluation.evaluate_folder(tmp_path / 'S', None, 1, metrics=quality.select('psnr,niqe'), reference=False)
