"""Tests for esrgan_jax.inference.niqe against BasicSR 1.4.2's calculate_niqe on images shipped with scikit-image.

Reference values were recorded once (2026-12-01, numpy 2, scipy 1.17, torch 2.13 CPU) by running BasicSR 1.4.2's
`basicsr.metrics.niqe.calculate_niqe(bgr_uint8, crop_border)` from its PyPI sdist (`input_order='HW'` for the gray
`camera`) in a scratch environment:
* BASICSR: as shipped. Its half-scale image comes from BasicSR's torch float32 `imresize`, whose accumulation order
  differs from any numpy one in the last bit of about half of the pixels; NIQE moves by up to ~1e-3 from that.
* BASICSR_FLOAT64_RESIZE: the same run with `basicsr.metrics.niqe.imresize` replaced by MATLAB bicubic in float64
  (`esrgan_jax.data.imresize.imresize(x, 0.5)` cast to float32), which is what esrgan_jax does. Every other step is
  BasicSR's, so this checks luma, rounding, cropping, MSCN, the fits, features and distance to ~1e-13.
"""

import numpy as np
import pytest
import skimage.data

from esrgan_jax.inference import niqe

# image: (crop_border 0, crop_border 4)
BASICSR = {
  'astronaut': (3.0649476661847754, 2.9912960484545486),
  'camera': (3.096206619345783, 3.0465181612260595),
  'chelsea': (2.6255243812915023, 2.6893133463072423),
  'coffee': (4.115241615372862, 4.079406018889277),
}
BASICSR_FLOAT64_RESIZE = {
  'astronaut': (3.064629030736071, 2.9907713377918457),
  'camera': (3.0963504594229057, 3.046637600412818),
  'chelsea': (2.625542763097847, 2.689320920608368),
  'coffee': (4.115245063514179, 4.079432086346925),
}
CASES = [(name, crop) for name in BASICSR for crop in (0, 4)]


@pytest.fixture(scope='module')
def scores():
  return {(name, crop): niqe.niqe(getattr(skimage.data, name)(), crop) for name, crop in CASES}


@pytest.mark.parametrize('name,crop', CASES)
def test_matches_basicsr_with_the_same_resize(scores, name, crop):
  assert abs(scores[name, crop] - BASICSR_FLOAT64_RESIZE[name][crop > 0]) <= 1e-6


@pytest.mark.parametrize('name,crop', CASES)
def test_close_to_basicsr_as_shipped(scores, name, crop):
  assert abs(scores[name, crop] - BASICSR[name][crop > 0]) <= 1e-3


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
