"""Tests for esrgan_jax.data.imresize: hand-computed values, a direct-sum reference, numpy vs TF."""

import math

import numpy as np
import pytest
import tensorflow as tf

from esrgan_jax.data.imresize import imresize, modcrop, resize_taps
from esrgan_jax.data.imresize_tf import imresize_tf

SCALES = [1 / 2, 1 / 3, 1 / 4, 1 / 8, 2, 4, 0.7, 1.5]


def _keys(d: float) -> float:
  d = abs(d)
  if d <= 1:
    return 1.5 * d**3 - 2.5 * d**2 + 1
  if d <= 2:
    return -0.5 * d**3 + 2.5 * d**2 - 4 * d + 2
  return 0.0


def _reference_resize_1d(signal: np.ndarray, scale: float) -> np.ndarray:
  """Direct sum over every integer input position within the kernel support.

  Written from the definition (not from the tap layout of the implementation):
  sample position u, kernel stretched by 1/scale when downscaling, input
  indices outside [1, n] mirrored with edge repetition (..., 2, 1 | 1, 2, ..., n | n, n-1, ...).
  """
  n = len(signal)
  stretch = 1 / scale if scale < 1 else 1.0
  out = []
  for x in range(1, math.ceil(n * scale) + 1):
    u = x / scale + 0.5 * (1 - 1 / scale)
    total = weight_sum = 0.0
    for j in range(math.floor(u - 2 * stretch) - 1, math.ceil(u + 2 * stretch) + 2):
      w = _keys((u - j) / stretch) / stretch
      k = j
      while not 1 <= k <= n:  # Reflect until inside; repeats the edge pixel.
        k = 1 - k if k < 1 else 2 * n + 1 - k
      total += w * signal[k - 1]
      weight_sum += w
    out.append(total / weight_sum)
  return np.array(out)


def _reference_resize(image: np.ndarray, scale: float) -> np.ndarray:
  rows = np.apply_along_axis(_reference_resize_1d, 0, image.astype(np.float64), scale)
  return np.apply_along_axis(_reference_resize_1d, 1, rows, scale)


# Antialiased x1/2 weights 0.5 * keys(d / 2) at the half-integer distances d.
W_HALF = {0.5: 0.43359375, 1.5: 0.11328125, 2.5: -0.03515625, 3.5: -0.01171875}


def test_ramp_downscale_by_two_hand_values():
  # Ramp v = 0..7 at 1-based positions 1..8; output x samples u = 2x - 0.5 with
  # taps j = u - 3.5 .. u + 3.5. Out-of-range taps are mirrored with the edge
  # repeated: j = -2, -1, 0 read positions 3, 2, 1 (values 2, 1, 0).
  ramp = np.arange(8, dtype=np.float64)[None, :]
  out = imresize(ramp, 1 / 2)[0]
  w = W_HALF
  # x = 1, u = 1.5: taps j = -2..5 read values 2, 1, 0, 0, 1, 2, 3, 4.
  first = w[3.5] * 2 + w[2.5] * 1 + w[1.5] * 0 + w[0.5] * 0 + w[0.5] * 1 + w[1.5] * 2 + w[2.5] * 3 + w[3.5] * 4
  # x = 2, u = 3.5: taps j = 0..7 read 0, 0, 1, ..., 6: the ramp (centre 2.5)
  # except that j = 0 reads 0 instead of -1.
  second = 2.5 + w[3.5] * (0 - (-1))
  assert out.shape == (4,)
  np.testing.assert_allclose(out, [first, second, 7 - second, 7 - first], atol=1e-12)
  np.testing.assert_allclose(out, [0.44921875, 2.48828125, 4.51171875, 6.55078125], atol=1e-12)


def test_impulse_upscale_by_two_hand_values():
  # Upscaling uses keys(u - j) directly, and these sum to 1, so the outputs of
  # an impulse at input position 6 (1-based) are keys(u - 6), u = x/2 + 0.25.
  impulse = np.zeros((12, 1))
  impulse[5, 0] = 1.0
  out = imresize(impulse, 2)[:, 0]
  # keys(0.25) = 0.8671875, keys(0.75) = 0.2265625, keys(1.25) = -0.0703125, keys(1.75) = -0.0234375.
  expected = [-0.0234375, -0.0703125, 0.2265625, 0.8671875, 0.8671875, 0.2265625, -0.0703125, -0.0234375]  # x = 8..15
  assert out.shape == (24,)
  np.testing.assert_allclose(out[7:15], expected, atol=1e-12)
  assert np.all(out[:7] == 0) and np.all(out[15:] == 0)


def test_impulse_downscale_antialias_hand_values():
  # Output x (u = 2x - 0.5) sees an impulse at input 9 (1-based) with weight
  # 0.5 * keys((u - 9) / 2): x = 3..6 give d = -3.5, -1.5, 0.5, 2.5.
  impulse = np.zeros((1, 20))
  impulse[0, 8] = 1.0
  out = imresize(impulse, 1 / 2)[0]
  w = W_HALF
  np.testing.assert_allclose(out[2:6], [w[3.5], w[1.5], w[0.5], w[2.5]], atol=1e-12)
  assert np.all(out[:2] == 0) and np.all(out[6:] == 0)


def test_half_scale_taps_hand_values():
  # x1/2 of 8: output x (u = 2x - 0.5) takes 10 taps j = 2x - 5 .. 2x + 4 (1-based), the outer two at distance 4.5
  # (beyond the kernel: weight 0); j <= 0 and j > 8 read mirrored positions, edge repeated.
  indices, weights = resize_taps(8, 4, 0.5)
  w = W_HALF
  row = [0.0, w[3.5], w[2.5], w[1.5], w[0.5], w[0.5], w[1.5], w[2.5], w[3.5], 0.0]
  np.testing.assert_array_equal(weights, np.tile(row, (4, 1)))
  np.testing.assert_array_equal(indices[0], [3, 2, 1, 0, 0, 1, 2, 3, 4, 5])  # 0-based inputs for j = -3..6
  np.testing.assert_array_equal(indices[3], [2, 3, 4, 5, 6, 7, 7, 6, 5, 4])  # 0-based inputs for j = 3..12
  assert not weights.flags.writeable and not indices.flags.writeable


@pytest.mark.parametrize('scale', SCALES)
@pytest.mark.parametrize('shape', [(13, 17, 3), (9, 8), (1, 5, 3), (1, 1, 3)])
def test_matches_direct_sum_reference(shape, scale):
  image = np.random.default_rng(0).random(shape)
  out = imresize(image, scale)
  expected = _reference_resize(image, scale)
  assert out.shape == (math.ceil(shape[0] * scale), math.ceil(shape[1] * scale)) + shape[2:]
  assert out.dtype == np.float64
  np.testing.assert_allclose(out, expected, atol=1e-12)


@pytest.mark.parametrize('scale', SCALES)
def test_constant_image_stays_constant(scale):
  image = np.full((11, 7, 3), 0.3)
  np.testing.assert_allclose(imresize(image, scale), 0.3, atol=1e-12)


def test_one_pixel_image_is_constant_at_every_scale():
  for scale in SCALES:
    out = imresize(np.array([[[0.2, 0.5, 0.9]]]), scale)
    np.testing.assert_allclose(out, np.broadcast_to([0.2, 0.5, 0.9], out.shape), atol=1e-12)


def test_uint8_input_keeps_units_and_is_not_rounded():
  image = np.random.default_rng(1).integers(0, 256, (16, 12, 3), dtype=np.uint8)
  out = imresize(image, 1 / 4)
  np.testing.assert_allclose(out, imresize(image.astype(np.float32), 1 / 4), atol=1e-9)
  assert out.dtype == np.float64 and out.max() > 1 and not np.all(out == np.round(out))


def test_output_shape_matches_scale_and_allows_anisotropic():
  image = np.random.default_rng(2).random((12, 16, 3))
  np.testing.assert_array_equal(imresize(image, output_shape=(3, 4)), imresize(image, 1 / 4))
  out = imresize(image, output_shape=(6, 4))
  np.testing.assert_allclose(out, imresize(imresize(image, output_shape=(6, 16)), output_shape=(6, 4)), atol=1e-12)


def test_bad_arguments():
  with pytest.raises(ValueError, match='HW or HWC'):
    imresize(np.zeros((2, 2, 2, 2)), 0.5)
  with pytest.raises(ValueError, match='exactly one'):
    imresize(np.zeros((4, 4)))
  with pytest.raises(ValueError, match='positive'):
    imresize(np.zeros((4, 4)), -1)


@pytest.mark.parametrize('scale', SCALES)
@pytest.mark.parametrize('shape', [(13, 17, 3), (24, 32, 3), (9, 8), (1, 1, 3)])
def test_tf_matches_numpy_static_and_dynamic(shape, scale):
  image = np.random.default_rng(3).random(shape).astype(np.float32)
  expected = imresize(image, scale)
  static = imresize_tf(tf.constant(image), scale).numpy()
  spec = tf.TensorSpec([None] * len(shape), tf.float32)
  dynamic = tf.function(lambda x: imresize_tf(x, scale), input_signature=[spec])(image).numpy()
  assert static.dtype == np.float32 and static.shape == expected.shape
  np.testing.assert_allclose(static, expected, atol=1e-5)
  np.testing.assert_allclose(dynamic, expected, atol=1e-5)


def test_tf_batched_nhwc_resizes_each_image():
  images = np.random.default_rng(5).random((3, 16, 12, 3)).astype(np.float32)
  out = imresize_tf(tf.constant(images), 1 / 4).numpy()
  np.testing.assert_allclose(out, np.stack([imresize(x, 1 / 4) for x in images]), atol=1e-5)


def test_tf_accepts_uint8():
  image = np.random.default_rng(4).integers(0, 256, (12, 12, 3), dtype=np.uint8)
  np.testing.assert_allclose(imresize_tf(tf.constant(image), 1 / 3).numpy(), imresize(image, 1 / 3), atol=1e-3)


def test_modcrop():
  image = np.zeros((13, 18, 3))
  assert modcrop(image, 4).shape == (12, 16, 3)
  assert modcrop(image[..., 0], 3).shape == (12, 18)
