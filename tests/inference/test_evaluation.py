"""Tests for esrgan_jax.inference.evaluation: the paper's degradation/rounding/crop protocol, folders and sets."""

import numpy as np
import pytest
from helpers import smooth_image, write_image_set

from esrgan_jax.data.imresize import imresize
from esrgan_jax.data.quantize import quantize
from esrgan_jax.inference import evaluation, metrics, quality


def test_lr_is_modcropped_bicubic_rounded_to_uint8():
  hr = smooth_image(27, 30)
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
  hr = smooth_image(32, 40)
  lr = quantize(imresize(hr, 0.25))
  sr = quantize(imresize(lr, 4))
  scores = evaluation.evaluate_image(hr, evaluation.bicubic_sr_fn(4), 4)
  assert scores['psnr'] == pytest.approx(metrics.psnr(sr, hr, 4), rel=1e-12)
  assert scores['ssim'] == pytest.approx(metrics.ssim(sr, hr, 4), rel=1e-12)
  rgb = evaluation.evaluate_image(hr, evaluation.bicubic_sr_fn(4), 4, test_y_channel=False)
  assert rgb['psnr'] == pytest.approx(metrics.psnr(sr, hr, 4, test_y_channel=False), rel=1e-12)


def test_border_of_scale_pixels_is_ignored_and_output_rounded():
  hr = smooth_image(24, 24).astype(np.int64)
  sr = np.clip(hr + 3, 0, 255)
  sr[:4], sr[-4:], sr[:, :4], sr[:, -4:] = 0, 0, 0, 0  # garbage only in the 4-pixel border
  sr_fn = lambda lr: (sr + 0.4) / 255.0  # +0.4 disappears when rounded to uint8
  interior = slice(4, -4), slice(4, -4)
  mse = np.mean((sr[interior] - hr[interior]) ** 2.0)
  scores = evaluation.evaluate_image(hr.astype(np.uint8), sr_fn, 4, test_y_channel=False)
  assert scores['psnr'] == pytest.approx(10 * np.log10(255**2 / mse))
  assert evaluation.evaluate_image(hr.astype(np.uint8), sr_fn, 4, test_y_channel=False, crop_border=2)['psnr'] < 20


def test_perfect_sr_scores_inf_and_one():
  hr = smooth_image(24, 20)
  scores = evaluation.evaluate_image(hr, lambda lr: hr / 255.0 + 0.3 / 255, 4)
  assert scores == {'psnr': float('inf'), 'ssim': pytest.approx(1.0)}


def test_modcrop_override_and_wrong_scale():
  hr = smooth_image(30, 30)
  shapes = []
  evaluation.evaluate_image(hr, lambda lr: shapes.append(lr.shape) or imresize(lr, 2), 2, modcrop_to=12)
  assert shapes == [(12, 12, 3)]
  with pytest.raises(ValueError, match='scale'):
    evaluation.evaluate_image(hr, lambda lr: imresize(lr, 2), 4)


def test_evaluate_folder_gray_counts_as_rgb_and_means(tmp_path):
  rgb, gray = smooth_image(24, 28, 1), smooth_image(28, 24, 2)[..., 0]
  folder = write_image_set(tmp_path / 'Tiny', {'b_rgb': rgb, 'a_gray': gray})
  (folder / 'notes.txt').write_text('not an image')
  result = evaluation.evaluate_folder(folder, evaluation.bicubic_sr_fn(4), 4)
  assert result['set'] == 'Tiny' and [r['image'] for r in result['images']] == ['a_gray', 'b_rgb']
  gray_rgb = np.repeat(gray[..., None], 3, axis=-1)
  assert result['images'][0]['psnr'] == evaluation.evaluate_image(gray_rgb, evaluation.bicubic_sr_fn(4), 4)['psnr']
  assert result['psnr'] == pytest.approx(np.mean([r['psnr'] for r in result['images']]))
  assert result['ssim'] == pytest.approx(np.mean([r['ssim'] for r in result['images']]))


def test_find_sets_single_and_parent_layouts(tmp_path):
  a = write_image_set(tmp_path / 'bench' / 'SetA', {'x': smooth_image(8, 8)})
  b = write_image_set(tmp_path / 'bench' / 'SetB', {'y': smooth_image(8, 8)})
  (tmp_path / 'bench' / 'empty').mkdir()
  assert evaluation.find_sets([a]) == [a]
  assert evaluation.find_sets([tmp_path / 'bench']) == [a, b]
  with pytest.raises(FileNotFoundError, match='No images'):
    evaluation.find_sets([tmp_path / 'bench' / 'empty'])


def test_folder_without_reference_rejects_reference_metrics(tmp_path):
  write_image_set(tmp_path / 'S', {'x': smooth_image(100, 200)})
  with pytest.raises(ValueError, match='x.png: psnr need an HR image'):
    evaluation.evaluate_folder(tmp_path / 'S', None, 1, metrics=quality.select('psnr,niqe'), reference=False)
