"""Tests for esrgan_jax.webapp.views: display conversion, the zoomed crop, NIQE or its reason."""

import numpy as np
from helpers import images, smooth_image

from esrgan_jax.data.imresize import imresize
from esrgan_jax.inference import niqe
from esrgan_jax.webapp import views


def test_display_is_uint8_rgb():
  assert views.display(images((5, 6))).shape == (5, 6, 3)  # gray repeated
  rgba = images((5, 6, 4))
  shown = views.display(rgba)
  assert shown.dtype == np.uint8 and shown.shape == (5, 6, 3)  # alpha dropped
  np.testing.assert_array_equal(shown, np.floor(rgba[..., :3] * 255 + 0.5).astype(np.uint8))


def test_bicubic_is_matlab_bicubic_clipped():
  image = images((6, 7, 3))
  out = views.bicubic(image, 4)
  assert out.shape == (24, 28, 3) and out.dtype == np.float32
  np.testing.assert_allclose(out, np.clip(imresize(image, 4), 0, 1), atol=1e-6)


def test_zoom_crops_the_same_place_of_both_sides():
  before = np.arange(40 * 60 * 3, dtype=np.uint8).reshape(40, 60, 3)
  after = 255 - before
  zoom_before, zoom_after = views.zoom(before, after, x=100, y=0, factor=4)  # top right corner, 10x10 px
  repeat = views.ZOOM_DISPLAY // 10
  assert zoom_before.shape == zoom_after.shape == (10 * repeat, 10 * repeat, 3)
  np.testing.assert_array_equal(zoom_before[::repeat, ::repeat], before[:10, 50:])
  np.testing.assert_array_equal(zoom_after[::repeat, ::repeat], after[:10, 50:])


def test_niqe_or_reason():
  image = smooth_image(96, 192)
  assert views.niqe_or_reason(image) == niqe.niqe(image)
  assert 'no NIQE: NIQE needs at least 2 whole 96x96 blocks' in views.niqe_or_reason(image[:50])


def test_preview_reduces_huge_images_only():
  small = np.zeros((30, 40, 3), np.uint8)
  assert views.preview(small, max_side=40) is small
  big = np.arange(30 * 41 * 3, dtype=np.uint8).reshape(30, 41, 3)
  reduced = views.preview(big, max_side=40)
  assert views.preview_factor(30, 41, 40) == 2 and reduced.shape == (15, 21, 3)
  np.testing.assert_allclose(reduced[0, 0], big[:2, :2].reshape(4, 3).mean(0), atol=1)
