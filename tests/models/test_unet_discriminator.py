"""UNetDiscriminatorSN against a torch reference with torch's spectral norm, through the .pth converter."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip('torch')
import torch_archs
from helpers import assert_close, images, seeded, to_nchw

from esrgan_jax.models.unet_discriminator import UNetDiscriminatorSN, spectral_normalize
from esrgan_jax.weights.unet_discriminator import unet_discriminator_from_torch, unet_discriminator_to_torch

FEAT = 8


def torch_net(skip_connection=True):
  net = seeded(0, torch_archs.TorchUNetDiscriminatorSN, 3, FEAT, skip_connection)
  net.train()
  with torch.no_grad():
    net.conv9.weight.mul_(30)  # logits well above assert_close's floor
    net(torch.zeros(1, 3, 16, 16))  # a few power iterations, so u and v are not at their random init
    net(torch.zeros(1, 3, 16, 16))
  return net


def state_numpy(net) -> dict:
  return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}


@pytest.mark.parametrize('skip_connection', [True, False])
def test_eval_matches_torch(skip_connection):
  net = torch_net(skip_connection).eval()
  module, variables = unet_discriminator_from_torch(state_numpy(net), skip_connection=skip_connection)
  assert module.num_feat == FEAT and module.num_in_ch == 3
  x = images((2, 24, 32, 3))
  with torch.no_grad():
    expected = net(to_nchw(x)).numpy().transpose(0, 2, 3, 1)
  out = module.apply(variables, jnp.asarray(x), train=False)
  assert out.shape == (2, 24, 32, 1)
  assert_close(out, expected)


def test_train_matches_torch_including_the_power_iteration():
  net = torch_net()
  module, variables = unet_discriminator_from_torch({'params': state_numpy(net)})
  x = images((2, 16, 16, 3), seed=3)
  with torch.no_grad():
    expected = net(to_nchw(x)).numpy().transpose(0, 2, 3, 1)  # train mode: updates weight_u, weight_v
  out, updates = module.apply(variables, jnp.asarray(x), train=True, mutable=['spectral'])
  assert_close(out, expected)
  converted = unet_discriminator_to_torch({'params': variables['params'], 'spectral': updates['spectral']})
  for key, value in net.state_dict().items():
    np.testing.assert_allclose(converted[key], value.numpy(), rtol=0, atol=1e-4, err_msg=key)


def test_spectral_normalize_divides_by_the_largest_singular_value_after_iterations():
  kernel = jnp.asarray(np.random.default_rng(0).normal(size=(3, 3, 4, 6)), jnp.float32)
  u, v = jnp.ones(6) / np.sqrt(6), jnp.ones(36) / 6
  for _ in range(50):
    normalized, u, v = spectral_normalize(kernel, u, v, update=True)
  matrix = np.asarray(normalized).transpose(3, 2, 0, 1).reshape(6, -1)
  np.testing.assert_allclose(np.linalg.svd(matrix, compute_uv=False)[0], 1, atol=1e-4)


def test_variable_layout_and_round_trip():
  module = UNetDiscriminatorSN(num_feat=FEAT)
  shapes = jax.eval_shape(functools.partial(module.init, train=False), jax.random.key(0), jnp.zeros((1, 16, 16, 3)))
  assert set(shapes) == {'params', 'spectral'} and 'bias' not in shapes['params']['conv3']
  assert shapes['spectral']['conv1']['u'].shape == (2 * FEAT,) and shapes['spectral']['conv1']['v'].shape == (
    FEAT * 16,
  )
  rng = np.random.default_rng(0)
  variables = jax.tree.map(lambda x: rng.normal(size=x.shape).astype(np.float32), shapes)
  state = unet_discriminator_to_torch(variables)
  net = torch_archs.TorchUNetDiscriminatorSN(3, FEAT)
  net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})  # torch accepts every key and shape
  _, again = unet_discriminator_from_torch(state)
  jax.tree.map(np.testing.assert_array_equal, again, variables)


def test_rejects_other_state_dicts_and_bad_input():
  with pytest.raises(ValueError, match='Not a Real-ESRGAN UNetDiscriminatorSN'):
    unet_discriminator_from_torch({'conv0.weight': np.zeros((8, 3, 3, 3))})
  with pytest.raises(ValueError, match='multiples of 8'):
    jax.eval_shape(UNetDiscriminatorSN(num_feat=FEAT).init, jax.random.key(0), jnp.zeros((1, 12, 16, 3)))
