"""Canvas resizes against jax.image.resize, MATLAB imresize and area averages."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import images

from esrgan_jax.data.imresize import imresize
from esrgan_jax.degradations.resize import RESIZE_METHODS, area_matrix, fill_beyond, resize

resize_jit = jax.jit(resize, static_argnums=3)


def run(image, out_hw, canvas_hw, method: str):
  hw = jnp.array(image.shape[:2])
  return np.asarray(resize_jit(jnp.asarray(image), hw, jnp.array(out_hw), canvas_hw, RESIZE_METHODS.index(method)))


@pytest.mark.parametrize('method,jax_method', [('bilinear', 'linear'), ('bicubic', 'cubic')])
@pytest.mark.parametrize('out_hw', [(24, 20), (9, 7)])
def test_kernel_methods_match_jax_image_without_antialiasing(method, jax_method, out_hw):
  image = images((16, 14, 3))
  expected = jax.image.resize(image, (*out_hw, 3), jax_method, antialias=False)
  np.testing.assert_allclose(run(image, out_hw, out_hw, method), expected, atol=1e-5)


def test_bicubic_upscaling_matches_matlab_imresize_inside():
  image = images((16, 16, 3))
  ours = run(image, (32, 32), (32, 32), 'bicubic')
  np.testing.assert_allclose(ours[4:-4, 4:-4], imresize(image, 2.0)[4:-4, 4:-4], atol=1e-5)  # edges: other padding


def test_area_integer_factor_is_block_mean():
  image = images((16, 12, 3))
  expected = image.reshape(8, 2, 6, 2, 3).mean(axis=(1, 3))
  np.testing.assert_allclose(run(image, (8, 6), (8, 6), 'area'), expected, atol=1e-6)


def test_area_weights_are_overlaps_and_keep_the_mean():
  weights = np.asarray(area_matrix(16, 6, jnp.float32(6 / 16)))
  np.testing.assert_allclose(weights.sum(axis=1), 1, atol=1e-6)
  np.testing.assert_allclose(weights[0, :3], [0.375, 0.375, 0.25], atol=1e-6)  # [0, 8/3) covers 1, 1, 2/3 pixels
  image = images((16, 16, 3))
  np.testing.assert_allclose(run(image, (6, 6), (6, 6), 'area').mean(), image.mean(), atol=1e-6)


@pytest.mark.parametrize('method', RESIZE_METHODS)
def test_canvas_holds_the_resized_image_and_repeats_its_edges(method):
  image = images((16, 16, 3))
  exact = run(image, (10, 7), (10, 7), method)
  canvas = run(image, (10, 7), (14, 12), method)
  np.testing.assert_allclose(canvas[:10, :7], exact, atol=1e-6)
  np.testing.assert_array_equal(canvas[10:, :7], np.broadcast_to(canvas[9:10, :7], (4, 7, 3)))
  np.testing.assert_array_equal(canvas[:, 7:], np.broadcast_to(canvas[:, 6:7], (14, 5, 3)))


def test_resize_reads_only_the_valid_region():
  image = images((16, 16, 3))
  canvas = np.asarray(fill_beyond(jnp.pad(jnp.asarray(image), ((0, 8), (0, 8), (0, 0))), jnp.array([16, 16])))
  out = resize_jit(jnp.asarray(canvas), jnp.array([16, 16]), jnp.array([8, 8]), (8, 8), 1)
  np.testing.assert_allclose(out, run(image, (8, 8), (8, 8), 'bilinear'), atol=1e-6)
