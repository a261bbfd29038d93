"""The GAN step's discriminator passes and the cosine-restart schedule against BasicSR 1.4.2's definitions."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_running_stats_match_torch, make_batch, tiny_train_config

from esrgan_jax.configs import default
from esrgan_jax.training import steps
from esrgan_jax.weights import discriminator_state_dict


def basicsr_cosine_restart_lr(t: int, base: float, periods, weights, eta_min: float) -> float:
  """CosineAnnealingRestartLR.get_lr at last_epoch t: the first cycle i with t <= cumulative_period[i]."""
  cumulative = np.cumsum(periods)
  i = next(i for i, end in enumerate(cumulative) if t <= end)
  start = 0 if i == 0 else cumulative[i - 1]
  return eta_min + weights[i] * 0.5 * (base - eta_min) * (1 + math.cos(math.pi * (t - start) / periods[i]))


def test_cosine_restart_lr_equals_basicsr_at_every_step_and_boundary():
  periods, weights = (4, 6, 3), (1.0, 0.5, 0.25)
  stage = default.stage_config(schedule='cosine_restarts', periods=periods, restart_weights=weights, eta_min=0.1)
  fn = jax.jit(steps.create_learning_rate_fn(stage, 1.0))
  expected = [basicsr_cosine_restart_lr(t, 1.0, periods, weights, 0.1) for t in range(sum(periods) + 1)]
  np.testing.assert_allclose([fn(t) for t in range(sum(periods) + 1)], expected, rtol=1e-6)
  np.testing.assert_allclose([fn(4), fn(10), fn(13)], 0.1, rtol=1e-6)  # each cycle's last step reaches eta_min


def test_psnr_recipe_restart_boundaries():
  """ESRGAN's PSNR stage (periods 250k x 4, eta_min 1e-7): eta_min at step 250000, the next cycle one step later."""
  stage = default.get_config().psnr
  fn = jax.jit(steps.create_learning_rate_fn(stage, stage.lr))
  for end in np.cumsum(stage.periods)[:-1]:
    np.testing.assert_allclose(fn(end), 1e-7, rtol=1e-3)
    expected = basicsr_cosine_restart_lr(end + 1, stage.lr, stage.periods, stage.restart_weights, stage.eta_min)
    np.testing.assert_allclose(fn(end + 1), expected, rtol=1e-5)


def torch_d_step(net, optimizer, real, fake, update_g: bool):
  """ESRGANModel.optimize_parameters' D passes (NCHW torch tensors): the G step's (real, fake) when G is updated,
  then the D step's detached fake pass, the real pass and the fake pass, with its split backward and Adam step."""
  import torch  # noqa: PLC0415

  bce = torch.nn.functional.binary_cross_entropy_with_logits
  if update_g:
    with torch.no_grad():
      net(real), net(fake)
  optimizer.zero_grad()
  fake_pred = net(fake).detach()
  real_pred = net(real)
  l_real = bce(real_pred - fake_pred.mean(), torch.ones_like(real_pred)) * 0.5
  l_real.backward()
  fake_pred = net(fake)
  l_fake = bce(fake_pred - real_pred.detach().mean(), torch.zeros_like(fake_pred)) * 0.5
  l_fake.backward()
  optimizer.step()


def test_gan_step_batch_norm_statistics_equal_basicsr_after_two_iterations():
  """A tiny ESRGAN GAN stage (ragan, G frozen at iteration 1 by net_d_init_iters, updated at 2): D's BatchNorm running
  statistics after two steps equal a torch VGG-style D run through BasicSR's passes on the same SR and HR batches."""
  torch = pytest.importorskip('torch')
  from torch_archs import TorchVGGStyleDiscriminator  # noqa: PLC0415

  config = tiny_train_config()
  config.gan.update(net_d_init_iters=1, schedule='constant', lr_d=1e-3)
  state = jax.jit(functools.partial(steps.init_state, config, 'gan'))(jnp.zeros((1, 32, 32, 3)))
  generator, discriminator = steps.create_generator(config), steps.create_discriminator(config)
  step = jax.jit(
    functools.partial(
      steps.gan_train_step,
      generator=generator,
      discriminator=discriminator,
      perceptual=None,
      g_tx=steps.create_optimizer(config.gan, config.gan.lr_g),
      d_tx=steps.create_optimizer(config.gan, config.gan.lr_d),
      stage=config.gan,
      ema_decay=0.9,
    )
  )
  net = TorchVGGStyleDiscriminator(num_feat=config.discriminator.num_feat).train()
  torch_state = discriminator_state_dict.discriminator_to_torch(
    discriminator, {'params': state.d_params, **state.d_collections}
  )
  net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in torch_state.items()})
  optimizer = torch.optim.Adam(net.parameters(), lr=config.gan.lr_d, betas=(config.gan.b1, config.gan.b2), eps=1e-8)
  g_params = state.g_params  # G's output of both iterations comes from its initial parameters (updated after it)
  to_torch = lambda x: torch.from_numpy(np.array(x)).permute(0, 3, 1, 2).contiguous()
  for seed, update_g in ((0, False), (1, True)):
    batch = make_batch(n=4, seed=seed)
    sr = generator.apply({'params': g_params}, batch['lr'], train=True)
    state, _ = step(state, batch, {})
    torch_d_step(net, optimizer, to_torch(batch['hr']), to_torch(sr), update_g)
  assert_running_stats_match_torch(state.d_collections['batch_stats'], net, rtol=1e-4)
