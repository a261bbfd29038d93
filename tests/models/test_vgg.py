import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax.models import VGG19Features
from esrgan_jax.models.vgg import VGG19_LAYERS


def test_layer_names_follow_torchvision_indices():
  # torchvision features: 0 conv1_1, 1 relu1_1, ..., 34 conv5_4 (pools interleaved, not named here)
  assert VGG19_LAYERS[0] == 'conv1_1' and VGG19_LAYERS[-2] == 'conv5_4' and len(VGG19_LAYERS) == 32


def test_pre_activation_features_and_shapes():
  vgg = VGG19Features(layers=('conv5_4', 'relu5_4', 'conv2_1'))
  x = jax.random.uniform(jax.random.key(1), (1, 32, 32, 3))
  params = vgg.init(jax.random.key(0), x)['params']
  feats = vgg.apply({'params': params}, x)
  assert feats['conv5_4'].shape == (1, 2, 2, 512) and feats['conv2_1'].shape == (1, 16, 16, 128)
  assert float(feats['conv5_4'].min()) < 0  # before ReLU: negative values survive
  np.testing.assert_array_equal(feats['relu5_4'], jnp.maximum(feats['conv5_4'], 0))


def test_stops_at_deepest_requested_layer():
  params = VGG19Features(layers=('conv2_2',)).init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))['params']
  assert sorted(params) == ['conv1_1', 'conv1_2', 'conv2_1', 'conv2_2']


def test_input_normalisation():
  vgg = VGG19Features(layers=('conv1_1',), use_input_norm=False)
  params = vgg.init(jax.random.key(0), jnp.zeros((1, 4, 4, 3)))['params']
  mean = jnp.asarray([0.485, 0.456, 0.406]).reshape(1, 1, 1, 3)
  normed = VGG19Features(layers=('conv1_1',)).apply({'params': params}, jnp.broadcast_to(mean, (1, 4, 4, 3)))
  raw = vgg.apply({'params': params}, jnp.zeros((1, 4, 4, 3)))
  np.testing.assert_allclose(normed['conv1_1'], raw['conv1_1'], atol=1e-6)


def test_unknown_layer_is_a_clear_error():
  with pytest.raises(ValueError, match='Unknown VGG19 layers'):
    VGG19Features(layers=('conv6_1',)).init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))
