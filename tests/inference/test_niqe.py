"""Tests for esrgan_jax.inference.niqe against BasicSR 1.4.2's calculate_niqe on images shipped with scikit-image.

Reference values were recorded once (2026-12-01; numpy 2, scipy 1.17, torch 2.13 CPU with MKL 2024.2, AVX2 AMD EPYC)
by running BasicSR 1.4.2's `basicsr.metrics.niqe.calculate_niqe(bgr_uint8, crop_border)` from its PyPI sdist
(`input_order='HW'` for the gray images) in a scratch environment. esrgan_jax agrees with them to 2e-13. The images
are picked for how much NIQE moves when the float32 half-scale image changes in the last bit (a float64 resize gives
1.8e-3 on `brick`, 5e-4 on `astronaut` and `moon`); `page` and `text` have a single row of blocks.
"""

import numpy as np
import pytest
import skimage.data

from esrgan_jax.data.imresize import imresize
from esrgan_jax.inference import niqe

# image: (crop_border 0, crop_border 4)
BASICSR = {
  'astronaut': (3.0649476661847754, 2.9912960484545486),
  'brick': (9.479599681810095, 9.830786004297803),
  'camera': (3.096206619345783, 3.0465181612260595),
  'chelsea': (2.6255243812915023, 2.6893133463072423),
  'coffee': (4.115241615372862, 4.079406018889277),
  'coins': (3.622671715936883, 3.9745691642447185),
  'moon': (9.11205153111188, 9.21451127197141),
  'page': (8.812603528198819, 9.484043216752964),
  'rocket': (6.969154974981048, 6.733104101257083),
  'text': (10.197638378265873, 9.78458871039298),
}
CASES = [(name, crop) for name in BASICSR for crop in (0, 4)]


@pytest.fixture(scope='module')
def scores():
  return {(name, crop): niqe.niqe(getattr(skimage.data, name)(), crop) for name, crop in CASES}


@pytest.mark.parametrize('name,crop', CASES)
def test_matches_basicsr(scores, name, crop):
  assert abs(scores[name, crop] - BASICSR[name][crop > 0]) <= 1e-4


def test_half_scale_is_matlab_bicubic_in_float32():
  luma = niqe.niqe_luma(skimage.data.astronaut()[:96, :192])
  half = niqe.half_scale(luma)
  assert half.dtype == np.float32 and half.shape == (48, 96)
  np.testing.assert_allclose(half, imresize(luma, 0.5), rtol=0, atol=1e-4)  # float32: a few ulps at 255
  with pytest.raises(ValueError, match='multiples of 8'):
    niqe.half_scale(luma[:, :188])


def test_nearest_shape_index_is_argmin_over_the_grid():
  ratios = niqe._shape_ratios()
  assert np.all(np.diff(ratios) > 0)
  rng = np.random.default_rng(0)
  midpoints = (ratios[:-1] + ratios[1:]) / 2
  targets = np.concatenate([rng.uniform(0, 1.2, 300), ratios[::97], midpoints[::89], [np.nan, -1.0, 5.0]])
  brute = np.argmin((ratios[None, :] - targets[:, None]) ** 2, axis=1)
  np.testing.assert_array_equal(niqe.nearest_shape_index(targets), brute)


def test_gray_forms_agree_and_rgb_uses_luma():
  gray = skimage.data.camera()[:200, :300]
  assert niqe.niqe(gray) == niqe.niqe(gray[..., None])
  assert niqe.niqe(np.repeat(gray[..., None], 3, -1)) != niqe.niqe(gray)  # Y of gray RGB is 16 + 219/255 * level


def test_lower_for_a_natural_image_than_for_its_blurred_upscale():
  image = skimage.data.chelsea()
  blurred = skimage.transform.rescale(skimage.transform.rescale(image, 0.25, channel_axis=-1), 4, channel_axis=-1)
  assert niqe.niqe(image) + 2 < niqe.niqe((blurred * 255).astype(np.uint8))


def test_needs_two_whole_blocks():
  image = skimage.data.camera()
  assert np.isfinite(niqe.niqe(image[:96, :192]))
  with pytest.raises(ValueError, match='at least 2 whole 96x96 blocks.*96x192 image with crop_border 1'):
    niqe.niqe(image[:96, :192], crop_border=1)
  with pytest.raises(ValueError, match='has 1'):
    niqe.niqe(image[:191, :191])
  assert niqe.num_blocks(200, 300, 4) == 2 * 3


def test_rejects_other_inputs():
  with pytest.raises(ValueError, match='uint8'):
    niqe.niqe(np.zeros((200, 200, 3), np.float32))
  with pytest.raises(ValueError, match='HW or HW3'):
    niqe.niqe(np.zeros((200, 200, 4), np.uint8))
  with pytest.raises(ValueError, match='crop_border'):
    niqe.niqe(np.zeros((200, 200), np.uint8), crop_border=-1)


def test_pristine_model_is_read_only_package_data():
  model = niqe.pristine_model()
  assert {k: v.shape for k, v in model.items()} == {
    'mu_pris_param': (1, 36),
    'cov_pris_param': (36, 36),
    'gaussian_window': (7, 7),
  }
  assert model['gaussian_window'].sum() == pytest.approx(1.0)
  with pytest.raises(ValueError):
    model['mu_pris_param'][0, 0] = 0.0
