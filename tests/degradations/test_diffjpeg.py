"""DiffJPEG in JAX against a numpy reference written from BasicSR 1.4.2's definition (basicsr/utils/diffjpeg.py)."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import skimage.data

from esrgan_jax.degradations.diffjpeg import diffjpeg

diffjpeg_jit = jax.jit(diffjpeg)

# Annex K tables as BasicSR writes them, then transposed (its y_table and c_table are `.T` of these).
Y_TABLE = np.array(
  [
    [16, 11, 10, 16, 24, 40, 51, 61],
    [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77],
    [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101],
    [72, 92, 95, 98, 112, 100, 103, 99],
  ],
  np.float32,
).T
C_TABLE = np.full((8, 8), 99, np.float32)
C_TABLE[:4, :4] = np.array([[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]).T


def reference_diffjpeg(image: np.ndarray, quality: float) -> np.ndarray:
  """DiffJPEG(differentiable=False) of one HWC float32 image in [0, 1], in numpy float32, step by step."""
  f32 = np.float32
  quality = f32(quality)
  factor = (f32(5000) / quality if quality < 50 else f32(200) - quality * f32(2)) / f32(100)
  h, w, _ = image.shape
  x = np.pad(np.clip(image, 0, 1), ((0, -h % 16), (0, -w % 16), (0, 0))) * f32(255)  # zeros at bottom / right
  to_ycc = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], f32).T
  ycc = np.tensordot(x, to_ycc, axes=1) + np.array([0, 128, 128], f32)
  hp, wp = ycc.shape[:2]
  planes = [ycc[..., 0]] + [ycc[..., c].reshape(hp // 2, 2, wp // 2, 2).mean(axis=(1, 3), dtype=f32) for c in (1, 2)]
  dct = np.zeros((8, 8, 8, 8))
  idct = np.zeros((8, 8, 8, 8))
  for a, b, u, v in itertools.product(range(8), repeat=4):
    dct[a, b, u, v] = math.cos((2 * a + 1) * u * math.pi / 16) * math.cos((2 * b + 1) * v * math.pi / 16)
    idct[a, b, u, v] = math.cos((2 * u + 1) * a * math.pi / 16) * math.cos((2 * v + 1) * b * math.pi / 16)
  alpha = np.array([1 / np.sqrt(2)] + [1] * 7)
  dct, idct, scale = dct.astype(f32), idct.astype(f32), (np.outer(alpha, alpha) * 0.25).astype(f32)
  alpha2 = np.outer(alpha, alpha).astype(f32)
  decoded = []
  for plane, table in zip(planes, (Y_TABLE, C_TABLE, C_TABLE)):
    ph, pw = plane.shape
    blocks = plane.reshape(ph // 8, 8, pw // 8, 8).transpose(0, 2, 1, 3)
    coefficients = scale * np.tensordot(blocks - f32(128), dct, axes=2)
    quantised = np.round(coefficients / (table * factor))  # half to even, as torch.round
    pixels = f32(0.25) * np.tensordot(quantised * (table * factor) * alpha2, idct, axes=2) + f32(128)
    decoded.append(pixels.transpose(0, 2, 1, 3).reshape(ph, pw))
  cb, cr = (np.repeat(np.repeat(p, 2, axis=0), 2, axis=1) for p in decoded[1:])
  to_rgb = np.array([[1.0, 0.0, 1.402], [1, -0.344136, -0.714136], [1, 1.772, 0]], f32).T
  rgb = np.tensordot(np.stack([decoded[0], cb, cr], -1) + np.array([0, -128, -128], f32), to_rgb, axes=1)
  return np.clip(rgb, 0, 255)[:h, :w] / f32(255)


@pytest.mark.parametrize('quality', [30.0, 43.7, 50.0, 71.25, 95.0])
def test_matches_the_definition(quality):
  image = skimage.data.chelsea()[:88, :120].astype(np.float32) / 255  # sides not multiples of 16
  expected = reference_diffjpeg(image, quality)
  ours = np.asarray(diffjpeg_jit(image, quality))
  error = np.abs(ours - expected)
  assert error.max() <= 1 / 255, error.max()
  assert error.mean() <= 1e-3, error.mean()
  assert np.abs(expected - image).mean() > 20 * error.mean()  # the check sees JPEG's own distortion


def test_canvas_valid_region_compresses_like_the_image_alone():
  image = skimage.data.coffee()[:40, :52].astype(np.float32) / 255
  canvas = np.pad(image, ((0, 24), (0, 12), (0, 0)), mode='edge')  # what the pipeline's canvases hold beyond
  alone = np.asarray(diffjpeg_jit(image, 40.0))
  in_canvas = np.asarray(diffjpeg(jnp.asarray(canvas), 40.0, jnp.array([40, 52])))[:40, :52]
  np.testing.assert_allclose(in_canvas, alone, atol=1e-6)


def test_lower_quality_loses_more_and_output_is_clamped():
  image = skimage.data.astronaut()[:64, :64].astype(np.float32) / 255
  errors = [float(np.abs(diffjpeg_jit(image, q) - image).mean()) for q in (20.0, 50.0, 90.0)]
  assert errors[0] > errors[1] > errors[2] > 0
  out = np.asarray(diffjpeg_jit(image * 1.5 - 0.2, 30.0))
  assert out.min() >= 0 and out.max() <= 1
