"""Canvas resizes against torch's F.interpolate: numpy references written from its definitions (no torch needed),
and F.interpolate itself where torch is installed, by size and by scale factor."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import images

from esrgan_jax.degradations.resize import RESIZE_METHODS, fill_beyond, resize

resize_jit = jax.jit(resize, static_argnums=3)

# (input side, output side, scale_factor or None): by size (round 2, final resize) and by scale factor (round 1, whose
# output side is floor(side * s)): up, down, keep, non-integer ratios, odd sides.
CASES = [(24, 36, None), (40, 10, None), (33, 14, None), (17, 29, None), (30, 30, None)]
CASES += [(s, math.floor(s * f), f) for s, f in [(32, 1.37), (40, 0.2871), (36, 0.15), (28, 1.0), (32, 0.7777)]]


IN_CANVAS, OUT_CANVAS = 40, 48  # every case in fixed canvases: one compile serves them all


def run(image, out_hw, method: str, scale_factor=None):
  """The resized image (valid region), computed in fixed canvases."""
  hw = np.array(image.shape[:2])
  canvas = fill_beyond(jnp.pad(jnp.asarray(image), ((0, IN_CANVAS - hw[0]), (0, IN_CANVAS - hw[1]), (0, 0))), hw)
  factor = None if scale_factor is None else jnp.float32(scale_factor)
  method = RESIZE_METHODS.index(method)
  out = resize_jit(canvas, jnp.array(hw), jnp.array(out_hw), (OUT_CANVAS, OUT_CANVAS), method, factor)
  return np.asarray(out)[: out_hw[0], : out_hw[1]]


def source(out_len, in_len, scale_factor):
  step = np.float32(1 / scale_factor) if scale_factor else np.float32(in_len) / np.float32(out_len)
  return step * (np.arange(out_len, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5)


A = -0.75  # torch's cubic convolution coefficient


def near(d):
  return (A + 2) * d**3 - (A + 3) * d**2 + 1  # |d| <= 1


def far(d):
  return A * d**3 - 5 * A * d**2 + 8 * A * d - 4 * A  # 1 < |d| < 2


def reference_matrix(in_len, out_len, method, scale_factor=None) -> np.ndarray:
  """The [out, in] weights of F.interpolate's definition, align_corners=False, in float64."""
  m = np.zeros((out_len, in_len))
  x = source(out_len, in_len, scale_factor).astype(np.float64)
  for j in range(out_len):
    if method == 'area':  # adaptive_avg_pool: integer bin edges
      start, end = (j * in_len) // out_len, -(-((j + 1) * in_len) // out_len)
      m[j, start:end] = 1 / (end - start)
    elif method == 'bilinear':
      s = max(x[j], 0.0)
      i = min(int(np.floor(s)), in_len - 1)
      t = s - i
      m[j, i] += 1 - t
      m[j, min(i + 1, in_len - 1)] += t
    else:  # Keys' cubic convolution, a = -0.75, taps clamped to the edges
      i = int(np.floor(x[j]))
      t = x[j] - i
      for k, w in zip(range(i - 1, i + 3), (far(t + 1), near(t), near(1 - t), far(2 - t))):
        m[j, min(max(k, 0), in_len - 1)] += w
  return m


def case_shapes(in_len, out_len, scale_factor):
  """Input [in_len, in_len - 3] and output sizes of a case (the width by the same rule)."""
  out_w = math.floor((in_len - 3) * np.float32(scale_factor)) if scale_factor else out_len - 2
  return (in_len, in_len - 3), (out_len, out_w)


@pytest.mark.parametrize('in_len,out_len,scale_factor', CASES)
def test_matches_the_definition_of_f_interpolate(in_len, out_len, scale_factor):
  in_hw, out_hw = case_shapes(in_len, out_len, scale_factor)
  image = images((*in_hw, 3))
  for method in RESIZE_METHODS:
    rows, cols = (reference_matrix(in_hw[a], out_hw[a], method, scale_factor) for a in range(2))
    expected = np.einsum('oh,hwc,pw->opc', rows, image, cols)
    np.testing.assert_allclose(run(image, out_hw, method, scale_factor), expected, atol=1e-5, err_msg=method)


@pytest.mark.parametrize('method', RESIZE_METHODS)
def test_matches_torch_f_interpolate_by_size_and_by_scale_factor(method):
  torch = pytest.importorskip('torch')
  for in_len, out_len, scale_factor in CASES:
    in_hw, out_hw = case_shapes(in_len, out_len, scale_factor)
    image = images((*in_hw, 3), seed=in_len)
    nchw = torch.from_numpy(image).permute(2, 0, 1)[None]
    if scale_factor is None:
      theirs = torch.nn.functional.interpolate(nchw, size=out_hw, mode=method)
    else:  # our draws are float32; torch floors side * factor in float64
      theirs = torch.nn.functional.interpolate(nchw, scale_factor=float(np.float32(scale_factor)), mode=method)
      assert tuple(theirs.shape[2:]) == out_hw
    ours = run(image, out_hw, method, scale_factor)
    np.testing.assert_allclose(ours, theirs[0].permute(1, 2, 0).numpy(), atol=1e-5, err_msg=str((in_len, out_len)))


def test_bilinear_matches_jax_image_without_antialiasing():
  image = images((16, 14, 3))
  expected = jax.image.resize(image, (24, 20, 3), 'linear', antialias=False)
  np.testing.assert_allclose(run(image, (24, 20), 'bilinear'), expected, atol=1e-5)


def test_area_integer_factor_is_block_mean():
  image = images((16, 12, 3))
  expected = image.reshape(8, 2, 6, 2, 3).mean(axis=(1, 3))
  np.testing.assert_allclose(run(image, (8, 6), 'area'), expected, atol=1e-6)


@pytest.mark.parametrize('method', RESIZE_METHODS)
def test_canvas_holds_the_resized_image_and_repeats_its_edges(method):
  image, index = images((16, 16, 3)), RESIZE_METHODS.index(method)
  exact = np.asarray(resize_jit(jnp.asarray(image), jnp.array([16, 16]), jnp.array([10, 7]), (10, 7), index))
  canvas = np.asarray(resize_jit(jnp.asarray(image), jnp.array([16, 16]), jnp.array([10, 7]), (14, 12), index))
  np.testing.assert_allclose(canvas[:10, :7], exact, atol=1e-6)
  np.testing.assert_array_equal(canvas[10:, :7], np.broadcast_to(canvas[9:10, :7], (4, 7, 3)))
  np.testing.assert_array_equal(canvas[:, 7:], np.broadcast_to(canvas[:, 6:7], (14, 5, 3)))


@pytest.mark.parametrize('method', RESIZE_METHODS)
def test_resize_reads_only_the_valid_region(method):
  image = images((16, 16, 3))
  canvas = np.pad(image, ((0, 8), (0, 8), (0, 0)), constant_values=5.0)  # beyond the valid region: never read
  index = RESIZE_METHODS.index(method)
  out = resize_jit(jnp.asarray(canvas), jnp.array([16, 16]), jnp.array([9, 11]), (9, 11), index)
  np.testing.assert_allclose(out, run(image, (9, 11), method), atol=1e-6)
