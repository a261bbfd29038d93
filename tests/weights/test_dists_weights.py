"""Tests for esrgan_jax.weights.dists_weights without torch: key mapping, the wheel's alpha/beta, errors."""

import importlib.metadata

import numpy as np
import pytest
from helpers import lpips_official_states

from esrgan_jax.weights import dists_weights


def _alpha_beta(seed=0):
  rng = np.random.default_rng(seed)
  return {name: rng.random((1, 1475, 1, 1), np.float32) for name in ('alpha', 'beta')}


def test_torchvision_vgg16_and_alpha_beta_map_to_the_params():
  backbone, _ = lpips_official_states('vgg')  # torchvision's vgg16 features.N, with classifier keys
  alpha_beta = _alpha_beta()
  params = dists_weights.dists_from_torch(backbone, alpha_beta)
  np.testing.assert_array_equal(
    params['backbone']['conv2_1']['kernel'], backbone['features.5.weight'].transpose(2, 3, 1, 0)
  )
  np.testing.assert_array_equal(params['backbone']['conv5_3']['bias'], backbone['features.28.bias'])
  np.testing.assert_array_equal(params['alpha'], alpha_beta['alpha'].ravel())
  assert params['beta'].shape == (1475,)


def test_bad_files_are_named():
  backbone, _ = lpips_official_states('vgg')
  with pytest.raises(ValueError, match=r'alpha and beta of shape \(1, 1475, 1, 1\)'):
    dists_weights.dists_from_torch(backbone, backbone)
  with pytest.raises(ValueError, match='no features.N keys'):
    dists_weights.dists_from_torch(_alpha_beta(), _alpha_beta())
  alex, _ = lpips_official_states('alex')
  with pytest.raises(ValueError, match='wrong shapes'):
    dists_weights.dists_from_torch(alex, _alpha_beta())


def test_without_the_wheel_the_error_names_the_install(monkeypatch):
  def missing(name):
    raise importlib.metadata.PackageNotFoundError(name)

  monkeypatch.setattr(dists_weights.importlib.metadata, 'distribution', missing)
  with pytest.raises(FileNotFoundError, match=r'pip install --no-deps dists-pytorch==0.1.*--alpha-beta'):
    dists_weights.package_weights()
