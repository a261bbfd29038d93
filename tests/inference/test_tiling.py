"""Tests for esrgan_jax.inference.tiling: window geometry, blended tiles equal untiled output, one compilation per
image size, batching, mod-padding."""

import tracemalloc

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax.inference.tiling import covered_ratio, upscale_image, window_layout
from esrgan_jax.models.layers import pixel_unshuffle


def _tiny_net(scale: int, seed: int = 0):
  """Pixel-unshuffle by 4 // scale (as RRDBNet), two 3x3 convs, depth-to-space x4: output is input x scale.

  The receptive field reaches 2 unshuffled pixels plus the block, i.e. at most 3 * (4 // scale) input pixels.
  """
  m = 4 // scale
  k1, k2 = jax.random.split(jax.random.key(seed))
  w1 = jax.random.normal(k1, (3, 3, 3 * m * m, 8)) * 0.3
  w2 = jax.random.normal(k2, (3, 3, 8, 3 * 16)) * 0.3
  conv = lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))

  def net(x):
    x = pixel_unshuffle(x, m) if m > 1 else x
    y = conv(jnp.tanh(conv(x, w1)), w2)
    b, h, w, _ = y.shape
    return y.reshape(b, h, w, 4, 4, 3).transpose(0, 1, 3, 2, 4, 5).reshape(b, h * 4, w * 4, 3)

  return net, 3 * m


def _image(h, w, seed=1):
  return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


@pytest.mark.parametrize('scale, shape', [(4, (37, 50)), (2, (45, 62)), (1, (90, 75))])
def test_tiled_equals_untiled_when_receptive_field_fits_the_overlap(scale, shape):
  net, reach = _tiny_net(scale)
  apply_fn = jax.jit(net)
  image = _image(*shape)
  whole = upscale_image(apply_fn, image, scale=scale)
  tiled = upscale_image(apply_fn, image, scale=scale, tile=12, tile_pad=2 * reach, batch_tiles=3)
  assert whole.shape == tiled.shape == (shape[0] * scale, shape[1] * scale, 3)
  np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-4)


def test_tiles_that_lack_context_would_differ():
  """The same comparison fails when tile_pad is too small for the receptive field (the test can fail)."""
  net, _ = _tiny_net(4)
  apply_fn = jax.jit(net)
  image = _image(40, 40)
  tiled = upscale_image(apply_fn, image, scale=4, tile=8, tile_pad=1)
  assert np.abs(tiled - upscale_image(apply_fn, image, scale=4)).max() > 1e-3


def test_untiled_mod_pads_by_reflection_and_crops():
  net, _ = _tiny_net(1)
  image = _image(13, 18)
  padded = np.pad(image, ((0, 3), (0, 2), (0, 0)), mode='reflect')
  expected = np.asarray(net(padded[None]))[0, :13, :18]
  np.testing.assert_allclose(upscale_image(jax.jit(net), image, scale=1), expected, rtol=0, atol=1e-6)


def test_one_compilation_for_all_tiles_of_an_image_size():
  net, _ = _tiny_net(4)
  calls = []
  apply_fn = jax.jit(lambda x: (calls.append(x.shape), net(x))[1])  # the append runs once per trace
  upscale_image(apply_fn, _image(70, 90), scale=4, tile=16, tile_pad=8, batch_tiles=4)  # 4 x 5 windows
  upscale_image(apply_fn, _image(70, 90, seed=2), scale=4, tile=16, tile_pad=8, batch_tiles=4)
  assert calls == [(4, 30, 31, 3)]
  assert apply_fn._cache_size() == 1


def test_batches_fill_the_last_call_and_count_tiles():
  net, _ = _tiny_net(4)
  shapes = []

  def apply_fn(x):
    shapes.append(x.shape)
    return np.asarray(net(x))

  upscale_image(apply_fn, _image(40, 40), scale=4, tile=10, tile_pad=4, batch_tiles=3)  # 4 x 4 windows of 16
  assert shapes == [(3, 16, 16, 3)] * 6


@pytest.mark.parametrize('multiple', [1, 2, 4])
def test_windows_cover_the_axis_evenly_with_the_overlap_the_blend_needs(multiple):
  for tile, tile_pad in [(8, 0), (16, 4), (64, 16), (128, 8)]:
    tile, tile_pad = tile * multiple, tile_pad * multiple
    for length in range(multiple, 700, 7 * multiple):
      size, starts = window_layout(length, tile, tile_pad, multiple)
      ends = [start + size for start in starts]
      assert size <= tile + 2 * tile_pad and size % multiple == 0 and all(s % multiple == 0 for s in starts)
      assert starts[0] == 0 and ends[-1] == length
      overlaps = [end - start for end, start in zip(ends, starts[1:])]
      assert all(o >= 2 * tile_pad for o in overlaps)
      assert max(overlaps, default=0) - min(overlaps, default=0) <= multiple  # spread evenly, not piled up at the end
      # One window fewer could not keep the overlap: the count is the fewest possible.
      assert (len(starts) - 1) * (tile + 2 * tile_pad) - (len(starts) - 2) * 2 * tile_pad < length or len(starts) == 1


def test_covered_ratio_of_a_small_image_is_far_below_the_shifted_last_tile():
  # Windows of tile + 2 * pad every tile pixels with the last one shifted back covered 192 x 192 of 160 x 120: 1.92.
  assert covered_ratio(160, 120, tile=64, tile_pad=16) == (96 * 2) * (76 * 2) / (160 * 120) == 1.52
  assert covered_ratio(256, 256, tile=128, tile_pad=16) < 1.3
  assert covered_ratio(1080, 1920, tile=512, tile_pad=16) < 1.12
  assert covered_ratio(64, 64, tile=64, tile_pad=16) == 1.0


def test_tile_larger_than_image_is_one_whole_window():
  net, _ = _tiny_net(4)
  apply_fn = jax.jit(net)
  image = _image(20, 24)
  np.testing.assert_allclose(
    upscale_image(apply_fn, image, scale=4, tile=64, tile_pad=8, batch_tiles=1),
    upscale_image(apply_fn, image, scale=4),
    rtol=0,
    atol=1e-6,
  )


def test_bad_arguments_raise():
  net, _ = _tiny_net(4)
  with pytest.raises(ValueError, match='HWC'):
    upscale_image(net, np.zeros((8, 8), np.float32), scale=4)
  with pytest.raises(ValueError, match='batch_tiles'):
    upscale_image(net, _image(8, 8), scale=4, tile=4, batch_tiles=0)


def test_tiled_memory_is_the_output_plus_a_few_windows():
  """numpy allocations (traced by tracemalloc) while tiling a 240 x 320 image at x4: the float32 output (14.7 MB)
  plus the padded input and a few windows' outputs and weights, far below a second copy of the output."""
  net, _ = _tiny_net(4)
  apply_fn = jax.jit(net)
  image = _image(240, 320)
  upscale_image(apply_fn, image[:80, :80], scale=4, tile=64, tile_pad=8)  # compile outside the measurement
  output_bytes = 240 * 4 * 320 * 4 * 3 * 4
  tracemalloc.start()
  out = upscale_image(apply_fn, image, scale=4, tile=64, tile_pad=8)
  _, peak = tracemalloc.get_traced_memory()
  tracemalloc.stop()
  assert out.shape == (960, 1280, 3)
  window_bytes = 80 * 4 * 80 * 4 * 3 * 4  # one window's output
  assert peak < output_bytes + image.nbytes + 4 * window_bytes
