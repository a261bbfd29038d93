"""Tests for esrgan_jax.webapp.blend: α moves without compiling, the ends are the two models, tiles from the budget."""

import jax
import numpy as np
import pytest
from app_helpers import COMPACT, GAN, PSNR
from helpers import images

from esrgan_jax.inference import memory
from esrgan_jax.webapp.blend import BlendedGenerator
from esrgan_jax.webapp.compilations import CompileCounter
from esrgan_jax.webapp.model_dir import ModelDir


@pytest.fixture(scope='module')
def pair(model_folder):
  models = ModelDir(model_folder)
  (module, psnr), (module_gan, gan) = models.load(PSNR), models.load(GAN)
  return BlendedGenerator(module, psnr, gan, module_gan), module, psnr, gan


def test_alpha_moves_without_compiling(pair):
  blended, *_ = pair
  image = images((20, 28, 3))
  counter = CompileCounter().start()
  try:
    first = blended.upscale(image, 0.25, budget=memory.GIB)[0]
    warm = counter.count
    outputs = [blended.upscale(image, alpha, budget=memory.GIB)[0] for alpha in (0.5, 0.75, 1.0)]
    assert counter.count == warm > 0  # the first α compiled; the next three compiled nothing
  finally:
    counter.stop()
  for a, b in zip([first, *outputs], outputs):
    assert a.shape == (80, 112, 3) and np.abs(a - b).max() > 1e-3  # every α renders something else


def test_ends_are_the_two_models(pair):
  blended, module, psnr, gan = pair
  image = images((12, 16, 3), seed=1)
  for alpha, params in ((0.0, psnr), (1.0, gan)):
    alone = BlendedGenerator(module, params)
    np.testing.assert_allclose(
      blended.upscale(image, alpha, budget=memory.GIB)[0], alone.upscale(image, 0.7, budget=memory.GIB)[0], atol=1e-5
    )
  assert blended.blends and not BlendedGenerator(module, psnr).blends


def test_tiles_when_the_budget_is_small(pair, capsys):
  blended, module, *_ = pair
  image = images((96, 80, 3), seed=2)
  budget = memory.activation_bytes(module, 64, 64)
  out, tile = blended.upscale(image, 0.5, budget=budget, tile_pad=8)
  assert tile == memory.tile_for_budget(module, 96, 80, budget, 8) > 0
  assert 'tiles' in capsys.readouterr().err  # the tqdm bar the page shows as progress
  whole, whole_tile = blended.upscale(image, 0.5, budget=memory.GIB, tile_pad=8)
  assert whole_tile == 0 and out.shape == whole.shape == (384, 320, 3)
  assert np.abs(out - whole).mean() < 0.02  # blended tiles, not a different picture


def test_different_architectures_are_refused(model_folder):
  models = ModelDir(model_folder)
  (module, params), (compact, compact_params) = models.load(PSNR), models.load(COMPACT)
  with pytest.raises(ValueError, match='the two models describe different generators .*must share one architecture'):
    BlendedGenerator(module, params, compact_params, compact)


def test_params_stay_on_the_device(pair):
  blended, *_ = pair
  assert all(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(blended.params(0.3)))
