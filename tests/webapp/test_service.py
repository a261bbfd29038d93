"""Tests for esrgan_jax.webapp.service: renders, comparisons, downloads, limits and errors, without the page."""

import re

import numpy as np
import pytest
from app_helpers import COMPACT, GAN, INPUT_SIZE, PSNR
from helpers import converted_lpips, smooth_image
from PIL import Image

from esrgan_jax.data.image_io import ImageReadError, read_image_raw
from esrgan_jax.webapp import views
from esrgan_jax.webapp.model_dir import ModelDir
from esrgan_jax.webapp.service import COMPARE_ALPHA0, COMPARE_BICUBIC, Limits, Upscaler

OUT_SIZE = (INPUT_SIZE[0] * 4, INPUT_SIZE[1] * 4)


@pytest.fixture(scope='module')
def upscaler(model_folder, tmp_path_factory):
  return Upscaler(ModelDir(model_folder), tmp_path_factory.mktemp('out'), Limits(max_megapixels=0.05))


def test_view_of_a_blend(upscaler, image_files):
  view = upscaler.view(str(image_files['rgb']), PSNR, GAN, 0.4)
  assert view.before.shape == view.after.shape == (*OUT_SIZE, 3)
  assert view.zoom_before.shape == view.zoom_after.shape
  assert 'α = 0.40' in view.report and 'Before: bicubic' in view.report and '24x48' not in view.report
  assert '48x24 → 192x96 · whole image' in view.report
  assert view.report.count('NIQE') == 1 and 'before ' in view.report and '(no NIQE' not in view.report
  assert view.download.name == 'rgb_tiny_psnr_tiny_gan_a0.40.png'
  pixels, bits = read_image_raw(view.download)
  assert bits == 8 and pixels.shape == (*OUT_SIZE, 3)
  np.testing.assert_array_equal(pixels, view.after)


def test_alpha_changes_the_output_and_compiles_nothing(upscaler, image_files):
  path = str(image_files['rgb'])
  upscaler.view(path, PSNR, GAN, 0.2)
  second = upscaler.view(path, PSNR, GAN, 0.9)
  assert 'Render: ' in second.report and ' 0 compilations' in second.report
  assert np.abs(second.after.astype(int) - upscaler.view(path, PSNR, GAN, 0.2).after).max() > 0


def test_compare_with_alpha_0(upscaler, image_files):
  path = str(image_files['rgb'])
  view = upscaler.view(path, PSNR, GAN, 0.7, compare=COMPARE_ALPHA0)
  np.testing.assert_array_equal(view.before, upscaler.view(path, PSNR, GAN, 0.0).after)
  assert f'Before: α = 0 ({PSNR})' in view.report
  single = upscaler.view(path, COMPACT, None, 0.7, compare=COMPARE_ALPHA0)  # one model: bicubic, α ignored
  assert 'Before: bicubic' in single.report and single.download.name == 'rgb_tiny_compact.png'
  with pytest.raises(ValueError, match='compare must be'):
    upscaler.view(path, PSNR, GAN, 0.5, compare='psnr')
  assert COMPARE_BICUBIC in upscaler.view(path, PSNR, None, 0.5).report


def test_16_bit_alpha_and_gray_are_kept_in_the_download(upscaler, image_files):
  pixels, bits = read_image_raw(upscaler.view(str(image_files['rgba16']), PSNR, GAN, 0.5).download)
  assert bits == 16 and pixels.shape == (*OUT_SIZE, 4) and pixels.dtype == np.uint16
  assert abs(int(pixels[..., 3].mean()) - round(200 / 255 * 65535)) < 100  # alpha upscaled by bicubic
  pixels, bits = read_image_raw(upscaler.view(str(image_files['gray']), PSNR, GAN, 0.5).download)
  assert bits == 8 and pixels.shape == OUT_SIZE


def test_limits_and_bad_files(upscaler, image_files):
  with pytest.raises(ValueError, match=r'big.png is 300x200 \(0.1 megapixels\); this app takes at most 0.05'):
    upscaler.view(str(image_files['big']), PSNR, GAN, 0.5)
  with pytest.raises(ImageReadError, match='bad.png: not a PNG, JPEG, BMP, TIFF or WebP file'):
    upscaler.view(str(image_files['bad']), PSNR, GAN, 0.5)
  with pytest.raises(ValueError, match='is not one of the model files'):
    upscaler.view(str(image_files['rgb']), '../tiny_psnr.msgpack', None, 0.5)
  with pytest.raises(ValueError, match='describe different generators'):
    upscaler.view(str(image_files['rgb']), PSNR, COMPACT, 0.5)


def test_niqe_curve(upscaler, image_files):
  curve = upscaler.niqe_curve(str(image_files['rgb']), PSNR, GAN, (0.0, 0.5, 1.0))
  assert [alpha for alpha, _ in curve] == [0.0, 0.5, 1.0]
  assert all(isinstance(value, float) and value > 0 for _, value in curve)
  assert len({value for _, value in curve}) == 3
  with pytest.raises(ValueError, match='needs two models'):
    upscaler.niqe_curve(str(image_files['rgb']), PSNR, None, (0.0, 1.0))


def test_reference_scores(model_folder, image_files, tmp_path):
  hr = tmp_path / 'hr.png'
  Image.fromarray(smooth_image(*OUT_SIZE, seed=3)).save(hr)
  path = str(image_files['rgb'])
  without = Upscaler(ModelDir(model_folder), tmp_path / 'out').view(path, PSNR, GAN, 0.5, reference=str(hr))
  assert 'Y-PSNR to the reference (crop 4): before ' in without.report
  assert 'LPIPS: LPIPS is off; start the app with --lpips alex' in without.report
  lpips_file = converted_lpips(tmp_path, 'alex')
  scored = Upscaler(ModelDir(model_folder), tmp_path / 'out', lpips=str(lpips_file))
  report = scored.view(path, PSNR, GAN, 0.5, reference=str(hr)).report
  assert re.search(r'LPIPS to the reference \(lower is better\): before \d+\.\d{4} · after \d+\.\d{4}', report)
  wrong = scored.view(path, PSNR, GAN, 0.5, reference=str(image_files['rgb'])).report
  assert 'Reference: 48x24, but the output is 192x96; upload the HR image of this input.' in wrong


def test_huge_outputs_are_shown_reduced(upscaler, image_files, monkeypatch):
  monkeypatch.setattr(views, 'PREVIEW_MAX', 100)
  view = upscaler.view(str(image_files['rgb']), PSNR, GAN, 0.5)
  assert view.before.shape == view.after.shape == (OUT_SIZE[0] // 2, OUT_SIZE[1] // 2, 3)
  assert '(shown at 1/2; zoom and download at full size)' in view.report
  assert read_image_raw(view.download)[0].shape == (*OUT_SIZE, 3)
