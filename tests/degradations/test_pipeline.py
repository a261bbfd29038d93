"""The whole degradation: shapes, 8-bit output, determinism from (key, index), USM, bad input."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage
from helpers import images

from esrgan_jax.degradations.kernels import gaussian_kernel
from esrgan_jax.degradations.noise import NOISE_TYPE_DRAW
from esrgan_jax.degradations.pipeline import (
  DegradationOptions,
  batch_key,
  degrade,
  example_keys,
  random_draws,
  scaled_size,
  synthesize_batch,
)
from esrgan_jax.degradations.usm import USM_RADIUS, USM_SIGMA, usm_sharpen

OPTIONS = DegradationOptions()


@functools.cache
def synthesize():
  return jax.jit(synthesize_batch, static_argnums=3)  # one compilation for the module


@pytest.fixture(scope='module')
def gt():
  return jnp.asarray(images((3, 32, 32, 3), seed=1))


def test_output_is_lr_sized_on_the_8_bit_grid_and_target_is_sharpened(gt):
  lq, target = synthesize()(jax.random.key(0), jnp.array([5, 6, 7]), gt, OPTIONS)
  assert lq.shape == (3, 8, 8, 3) and target.shape == gt.shape
  lq = np.asarray(lq)
  assert lq.min() >= 0 and lq.max() <= 1
  np.testing.assert_allclose(lq * 255, np.round(lq * 255), atol=1e-4)
  np.testing.assert_allclose(target, jax.vmap(usm_sharpen)(gt), atol=1e-6)


def test_each_example_depends_only_on_key_index_and_batch(gt):
  """Also with 'per_batch' draws: the batch's shared choices follow its set of indices, not their order."""
  run = synthesize()
  lq, _ = run(jax.random.key(0), jnp.array([5, 6, 7]), gt, OPTIONS)
  permuted, _ = run(jax.random.key(0), jnp.array([7, 5, 6]), gt[jnp.array([2, 0, 1])], OPTIONS)
  np.testing.assert_array_equal(np.asarray(permuted), np.asarray(lq)[[2, 0, 1]])  # bit-exact across batches
  same_image, _ = run(jax.random.key(0), jnp.array([8, 9, 10]), jnp.stack([gt[0]] * 3), OPTIONS)
  assert len({np.asarray(x).tobytes() for x in same_image}) == 3  # the index changes the degradation
  other_key, _ = run(jax.random.key(1), jnp.array([5, 6, 7]), gt, OPTIONS)
  assert not np.array_equal(np.asarray(other_key), np.asarray(lq))


def test_usm_matches_a_numpy_reference():
  image = images((40, 36, 3), seed=2)
  taps = np.asarray(gaussian_kernel(USM_SIGMA, USM_SIGMA, 0.0, size=USM_RADIUS, support=USM_RADIUS)).sum(0)
  blur = lambda x: scipy.ndimage.correlate1d(
    scipy.ndimage.correlate1d(x, taps, 0, mode='mirror'), taps, 1, mode='mirror'
  )
  residual = image - blur(image)
  mask = blur((np.abs(residual) * 255 > 10).astype(np.float64))
  expected = mask * np.clip(image + 0.5 * residual, 0, 1) + (1 - mask) * image
  np.testing.assert_allclose(usm_sharpen(jnp.asarray(image)), expected, atol=2e-5)
  assert abs(USM_SIGMA - 8.0) < 1e-12  # OpenCV's sigma for a 51-tap kernel


@pytest.mark.parametrize('shape', [(30, 32, 3), (16, 16, 3)])
def test_degrade_rejects_unusable_gt_sizes(shape):
  with pytest.raises(ValueError, match='multiples of scale 4 and at least 26'):
    degrade(jax.random.key(0), jnp.zeros(shape), OPTIONS)


def test_scaled_size_floors_exactly_as_float64():
  """torch floors side * scale_factor in float64; float32 rounds 100 * float32(1.41) up to 141 (exact: 140.99..)."""
  factors = np.concatenate([[1.41, 1.13, 0.15, 1.5, 1.0], np.random.default_rng(0).uniform(0.15, 1.5, 4000)])
  factors = factors.astype(np.float32)
  for hw in ((100, 24), (120, 36), (256, 64)):
    ours = np.asarray(jax.jit(jax.vmap(lambda f, hw=hw: scaled_size(hw, f)))(factors))
    expected = np.maximum(np.floor(np.array(hw)[None] * factors[:, None].astype(np.float64)), 1)
    np.testing.assert_array_equal(ours, expected)
  assert tuple(np.asarray(scaled_size((100, 100), np.float32(1.41)))) == (140, 140)


def test_jpeg_impl_is_diffjpeg_by_default_and_checked():
  assert OPTIONS.jpeg_impl == 'diffjpeg'
  assert dataclasses.replace(OPTIONS, jpeg_impl='libjpeg').jpeg_impl == 'libjpeg'
  with pytest.raises(ValueError, match="jpeg_impl must be one of \\('diffjpeg', 'libjpeg'\\)"):
    DegradationOptions(jpeg_impl='pillow')


BATCH_SLOTS = ('resize1', 'mode1', 'second_blur', 'resize2', 'mode2', 'final_mode', 'jpeg_last')  # BasicSR: per batch
IMAGE_SLOTS = ('blur1', 'quality1', 'blur2', 'sinc', 'quality2')  # BasicSR: per image


def _draws_of_batch(key, indices, shared):
  return jax.vmap(random_draws, (0, None))(example_keys(key, indices), batch_key(key, indices) if shared else None)


def test_per_batch_draws_share_basicsrs_batch_choices_and_keep_the_per_image_ones():
  """'per_batch': resize kind, factor and mode (both rounds and the final one), noise type, second-blur and order coin
  flips equal for every example; kernels, noise strength, gray coin and JPEG qualities per example. 'per_example':
  all per example."""
  key, indices = jax.random.key(3), jnp.arange(16, 24)
  shared, own = _draws_of_batch(key, indices, True), _draws_of_batch(key, indices, False)
  for name in BATCH_SLOTS:
    assert np.all(shared[name] == shared[name][:1]), name
    assert len(np.unique(np.asarray(own[name][:, 0]))) == len(indices), name
  for noise in ('noise1', 'noise2'):
    assert np.all(shared[noise][:, NOISE_TYPE_DRAW] == shared[noise][0, NOISE_TYPE_DRAW])
    strength_and_gray = np.delete(np.asarray(shared[noise]), NOISE_TYPE_DRAW, axis=1)
    np.testing.assert_array_equal(strength_and_gray, np.delete(np.asarray(own[noise]), NOISE_TYPE_DRAW, axis=1))
    assert len(np.unique(np.asarray(own[noise][:, NOISE_TYPE_DRAW]))) == len(indices)
  for name in IMAGE_SLOTS:
    np.testing.assert_array_equal(shared[name], own[name])
    assert len(np.unique(np.asarray(shared[name][:, 0]))) == len(indices), name


def test_batch_key_is_the_same_for_any_order_and_the_smallest_index():
  key = jax.random.key(0)
  first = jax.random.key_data(batch_key(key, jnp.array([9, 4, 7])))
  np.testing.assert_array_equal(first, jax.random.key_data(batch_key(key, jnp.array([7, 9, 4]))))
  np.testing.assert_array_equal(first, jax.random.key_data(jax.random.fold_in(key, 4)))


def test_per_batch_synthesis_degrades_each_example_with_the_batch_draws(gt):
  """Each LR image is `degrade` of its own key with the batch's key for the shared choices; another example's LR
  image differs from its 'per_example' one (all its draws its own) for this seed."""
  key, indices = jax.random.key(0), jnp.array([6, 5, 7])
  lq, _ = synthesize()(key, indices, gt, OPTIONS)
  assert OPTIONS.draws == 'per_batch'
  one = jax.jit(degrade, static_argnums=2)
  for example, index in enumerate(indices):
    alone = one(jax.random.fold_in(key, index), gt[example], OPTIONS, batch_key(key, indices))
    np.testing.assert_array_equal(np.asarray(lq[example]), np.asarray(alone))
  own_key = jax.random.fold_in(key, 7)
  assert not np.array_equal(np.asarray(lq[2]), np.asarray(one(own_key, gt[2], OPTIONS, own_key)))


def test_draws_option_is_checked():
  assert dataclasses.replace(OPTIONS, draws='per_example').draws == 'per_example'
  with pytest.raises(ValueError, match="draws must be one of \\('per_batch', 'per_example'\\)"):
    DegradationOptions(draws='per_image')
