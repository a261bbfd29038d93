"""Tests for esrgan_jax.inference.strip: layout, captions, NIQE of each panel, bad input."""

import numpy as np
import pytest
from helpers import smooth_image
from PIL import Image

from esrgan_jax.inference import niqe, strip


def test_strip_lays_out_lr_and_outputs_with_their_niqe(tmp_path):
  lr = smooth_image(50, 64)
  outputs = {'bicubic x4': smooth_image(200, 256, seed=1), 'model': smooth_image(200, 256, seed=2)}
  scores = strip.write_strip(tmp_path / 'strip.png', lr, outputs, 4)
  image = np.asarray(Image.open(tmp_path / 'strip.png'))
  assert image.shape == (200 + strip.CAPTION_HEIGHT, 3 * 256 + 2 * strip.GAP, 3)
  np.testing.assert_array_equal(image[:200, :256], lr.repeat(4, 0).repeat(4, 1))  # LR shown by pixel repetition
  for i, output in enumerate(outputs.values(), start=1):
    left = i * (256 + strip.GAP)
    np.testing.assert_array_equal(image[:200, left : left + 256], output)
    assert (image[:200, left - strip.GAP : left] == 255).all()
  assert scores == {label: niqe.niqe(img) for label, img in outputs.items()}  # the 50x64 LR is too small to score
  caption_rows = image[200:]
  assert (caption_rows < 128).any() and (caption_rows == 255).mean() > 0.8  # dark text on white


@pytest.mark.parametrize('dtype, white', [(np.uint8, 255), (np.uint16, 65535), (np.float32, 1.0)])
def test_side_by_side_puts_white_gaps_between_panels(dtype, white):
  panels = [np.full((3, width, 3), value, dtype) for width, value in ((2, 0), (4, 7), (1, 3))]
  row = strip.side_by_side(panels, 5)
  assert row.shape == (3, 2 + 5 + 4 + 5 + 1, 3) and row.dtype == dtype
  assert (row[:, :2] == 0).all() and (row[:, 2:7] == white).all() and (row[:, 7:11] == 7).all()
  assert (row[:, 11:16] == white).all() and (row[:, 16:] == 3).all()
  np.testing.assert_array_equal(strip.side_by_side(panels[:1], 5), panels[0])  # one panel: no gap


def test_side_by_side_keeps_float64_panels_exact():
  panels = [np.full((2, 2, 3), 1 / 3), np.zeros((2, 2, 3), np.float32)]
  row = strip.side_by_side(panels, 1)
  assert row.dtype == np.float64 and (row[:, :2] == 1 / 3).all() and (row[:, 2] == 1.0).all()


def test_caption_names_the_label_and_niqe():
  assert strip.caption('model', 3.14159) == 'model: NIQE 3.14'
  assert strip.caption('LR input 50x64 (shown x4)', None) == 'LR input 50x64 (shown x4)'


def test_outputs_of_the_wrong_size_are_named():
  with pytest.raises(ValueError, match=r"uint8 200x256 \(the LR size x 4\), got \{'model': \(200, 252, 3\)\}"):
    strip.image_strip(smooth_image(50, 64), {'model': smooth_image(200, 252)}, 4)
