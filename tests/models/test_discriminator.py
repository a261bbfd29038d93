import functools

import jax
import jax.numpy as jnp
import pytest

from esrgan_jax.models import VGGStyleDiscriminator
from esrgan_jax.weights import discriminator_state_dict


def test_param_count_128():
  variables = jax.eval_shape(VGGStyleDiscriminator().init, jax.random.key(0), jnp.zeros((1, 128, 128, 3)))
  assert sum(x.size for x in jax.tree.leaves(variables['params'])) == 14_499_401
  assert variables['params']['linear1']['kernel'].shape == (8192, 100)


def test_256_input_adds_a_stage():
  variables = jax.eval_shape(VGGStyleDiscriminator(input_size=256).init, jax.random.key(0), jnp.zeros((1, 256, 256, 3)))
  assert 'conv5_1' in variables['params'] and 'bn5_1' in variables['batch_stats']


@pytest.mark.parametrize('size', [64, 96, 130])
def test_rejects_other_input_sizes(size):
  with pytest.raises(ValueError, match='expects input of shape'):
    VGGStyleDiscriminator().init(jax.random.key(0), jnp.zeros((1, size, size, 3)))


def test_train_mode_updates_batch_stats_and_eval_uses_them():
  d = VGGStyleDiscriminator(num_feat=8)
  x = jax.random.uniform(jax.random.key(1), (4, 128, 128, 3))
  variables = jax.jit(functools.partial(d.init, train=False))(jax.random.key(0), x)
  logits, updates = jax.jit(functools.partial(d.apply, train=True, mutable=['batch_stats']))(variables, x)
  assert logits.shape == (4, 1)
  mean = updates['batch_stats']['bn1_1']['mean']
  assert float(jnp.abs(mean).max()) > 0  # moved from its zero init by momentum 0.9
  eval_logits = jax.jit(functools.partial(d.apply, train=False))(variables, x)
  assert float(jnp.abs(eval_logits - logits).max()) > 1e-6


def test_train_mode_passes_match_torch_batch_norm():
  """Logits and running statistics after several train-mode passes equal torch's (momentum 0.1, unbiased var)."""
  pytest.importorskip('torch')
  from helpers import assert_close, assert_running_stats_match_torch, images, seeded, torch_apply  # noqa: PLC0415
  from torch_archs import TorchVGGStyleDiscriminator  # noqa: PLC0415

  net = seeded(0, TorchVGGStyleDiscriminator, num_feat=4).train()
  state = {k: v.numpy().copy() for k, v in net.state_dict().items()}  # copies: torch updates its buffers in place
  module, variables = discriminator_state_dict.discriminator_from_torch(state)
  step = jax.jit(functools.partial(module.apply, train=True, mutable=['batch_stats']))
  stats = variables['batch_stats']
  for seed in range(4):
    x = images((4, 128, 128, 3), seed=seed)
    logits, updates = step({**variables, 'batch_stats': stats}, x)
    assert_close(logits, torch_apply(net, x), atol=1e-5)
    stats = updates['batch_stats']
  assert_running_stats_match_torch(stats, net)
