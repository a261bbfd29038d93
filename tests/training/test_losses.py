import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax.training import losses


@pytest.fixture
def torch():
  """PyTorch, the reference of the tests that take it (the others run without it)."""
  return pytest.importorskip('torch')


def np_bce(logits, target):
  p = 1 / (1 + np.exp(-logits.astype(np.float64)))
  return float(np.mean(-(target * np.log(p) + (1 - target) * np.log(1 - p))))


def test_l1_loss_against_numpy():
  rng = np.random.default_rng(0)
  a, b = rng.random((2, 4, 4, 3), np.float32), rng.random((2, 4, 4, 3), np.float32)
  np.testing.assert_allclose(losses.l1_loss(a, b), np.mean(np.abs(a - b)), rtol=1e-6)


@pytest.mark.parametrize('target', [0.0, 1.0])
def test_bce_against_numpy_and_stable_for_extreme_logits(target, torch):
  logits = np.array([-3.0, -0.5, 0.0, 2.0, 7.0], np.float32)
  np.testing.assert_allclose(losses.bce_with_logits(logits, target), np_bce(logits, target), rtol=1e-5)
  extreme = jnp.array([-1e4, -100.0, 100.0, 1e4])
  value = losses.bce_with_logits(extreme, target)
  grad = jax.grad(lambda x: losses.bce_with_logits(x, target))(extreme)
  assert np.isfinite(value) and np.all(np.isfinite(grad))
  bce = torch.nn.functional.binary_cross_entropy_with_logits
  np.testing.assert_allclose(value, bce(torch.tensor(np.asarray(extreme)), torch.full((4,), target)).item(), rtol=1e-6)


def ragan_torch(torch, real, fake):
  """BasicSR's ESRGANModel: returns (l_g_gan / weight, grads of the G loss, grads of the D loss) w.r.t. logits."""
  bce = torch.nn.functional.binary_cross_entropy_with_logits
  r, f = torch.tensor(real, requires_grad=True), torch.tensor(fake, requires_grad=True)
  # G step: real logits detached
  l_g = (bce(r.detach() - f.mean(), torch.zeros_like(r)) + bce(f - r.detach().mean(), torch.ones_like(f))) / 2
  (g_grad_f,) = torch.autograd.grad(l_g, f)
  # D step: real half with fake detached, fake half with real detached, gradients summed
  r2, f2 = torch.tensor(real, requires_grad=True), torch.tensor(fake, requires_grad=True)
  l_real = bce(r2 - f2.detach().mean(), torch.ones_like(r2)) * 0.5
  l_fake = bce(f2 - r2.detach().mean(), torch.zeros_like(f2)) * 0.5
  (l_real + l_fake).backward()
  return l_g.item(), g_grad_f.numpy(), (l_real + l_fake).item(), r2.grad.numpy(), f2.grad.numpy()


@pytest.mark.parametrize('spread', [1.0, 50.0])
def test_ragan_losses_and_gradients_match_basicsr(spread, torch):
  rng = np.random.default_rng(1)
  real, fake = (
    (rng.normal(size=(8, 1)) * spread).astype(np.float32),
    (rng.normal(size=(8, 1)) * spread).astype(np.float32),
  )
  l_g, g_grad_f, l_d, d_grad_r, d_grad_f = ragan_torch(torch, real, fake)
  ours_g, (ours_g_r, ours_g_f) = jax.value_and_grad(losses.ragan_generator_loss, argnums=(0, 1))(real, fake)
  ours_d, (ours_d_r, ours_d_f) = jax.value_and_grad(losses.ragan_discriminator_loss, argnums=(0, 1))(real, fake)
  np.testing.assert_allclose(ours_g, l_g, rtol=1e-5)
  np.testing.assert_allclose(ours_g_f, g_grad_f, rtol=1e-4, atol=1e-7)
  np.testing.assert_array_equal(ours_g_r, 0)  # real logits are detached in the G step
  np.testing.assert_allclose(ours_d, l_d, rtol=1e-5)
  np.testing.assert_allclose(ours_d_r, d_grad_r, rtol=1e-4, atol=1e-7)
  np.testing.assert_allclose(ours_d_f, d_grad_f, rtol=1e-4, atol=1e-7)


def vanilla_torch(torch, real, fake):
  """BasicSR's SRGANModel with GANLoss('vanilla'): (l_g / weight, its grad w.r.t. the fake logits, l_d, D's grads).

  D backprops the real and the (detached-SR) fake term separately; the gradients add up.
  """
  bce = torch.nn.functional.binary_cross_entropy_with_logits
  f = torch.tensor(fake, requires_grad=True)
  l_g = bce(f, torch.ones_like(f))
  (g_grad_f,) = torch.autograd.grad(l_g, f)
  r2, f2 = torch.tensor(real, requires_grad=True), torch.tensor(fake, requires_grad=True)
  l_real, l_fake = bce(r2, torch.ones_like(r2)), bce(f2, torch.zeros_like(f2))
  l_real.backward()
  l_fake.backward()
  return l_g.item(), g_grad_f.numpy(), (l_real + l_fake).item(), r2.grad.numpy(), f2.grad.numpy()


@pytest.mark.parametrize('spread', [1.0, 50.0])
def test_vanilla_gan_losses_and_gradients_match_basicsr(spread, torch):
  rng = np.random.default_rng(2)
  real, fake = (rng.normal(size=(2, 8, 1)) * spread).astype(np.float32)
  l_g, g_grad_f, l_d, d_grad_r, d_grad_f = vanilla_torch(torch, real, fake)
  ours_g, ours_g_f = jax.value_and_grad(losses.vanilla_generator_loss)(fake)
  ours_d, (ours_d_r, ours_d_f) = jax.value_and_grad(losses.vanilla_discriminator_loss, argnums=(0, 1))(real, fake)
  np.testing.assert_allclose(ours_g, l_g, rtol=1e-5)
  np.testing.assert_allclose(ours_g_f, g_grad_f, rtol=1e-4, atol=1e-7)
  np.testing.assert_allclose(ours_d, l_d, rtol=1e-5)
  np.testing.assert_allclose(ours_d_r, d_grad_r, rtol=1e-4, atol=1e-7)
  np.testing.assert_allclose(ours_d_f, d_grad_f, rtol=1e-4, atol=1e-7)


def test_vanilla_gan_losses_by_hand():
  """G: -log sigmoid(f); D: -log sigmoid(r) - log(1 - sigmoid(f)); at logit 0 each BCE term is log 2."""
  zeros = jnp.zeros((4, 1))
  np.testing.assert_allclose(losses.vanilla_generator_loss(zeros), np.log(2), rtol=1e-6)
  np.testing.assert_allclose(losses.vanilla_discriminator_loss(zeros, zeros), 2 * np.log(2), rtol=1e-6)
  real, fake = jnp.array([[2.0], [-1.0]]), jnp.array([[0.5], [-3.0]])
  sig = lambda x: 1 / (1 + np.exp(-np.asarray(x, np.float64)))
  np.testing.assert_allclose(losses.vanilla_generator_loss(fake), -np.mean(np.log(sig(fake))), rtol=1e-6)
  expected_d = -np.mean(np.log(sig(real))) - np.mean(np.log(1 - sig(fake)))
  np.testing.assert_allclose(losses.vanilla_discriminator_loss(real, fake), expected_d, rtol=1e-6)


def test_gan_losses_finite_for_extreme_logits():
  real, fake = jnp.array([[1e4], [-1e4]]), jnp.array([[-1e4], [3e4]])
  for fn in (losses.ragan_generator_loss, losses.ragan_discriminator_loss, losses.vanilla_discriminator_loss):
    value, grads = jax.value_and_grad(fn, argnums=(0, 1))(real, fake)
    assert np.isfinite(value) and all(np.all(np.isfinite(g)) for g in grads)
  value, grad = jax.value_and_grad(losses.vanilla_generator_loss)(fake)
  assert np.isfinite(value) and np.all(np.isfinite(grad))


def test_perceptual_loss_weights_layers_and_detaches_target():
  feats = lambda x: {'a': x * 2.0, 'b': x[..., :1]}
  sr, hr = jnp.ones((1, 2, 2, 3)), jnp.zeros((1, 2, 2, 3))
  value = losses.perceptual_loss(feats, sr, hr, {'a': 0.5, 'b': 3.0})
  np.testing.assert_allclose(value, 0.5 * 2.0 + 3.0 * 1.0)
  grad_hr = jax.grad(lambda h: losses.perceptual_loss(feats, sr, h, {'a': 1.0}))(hr)
  np.testing.assert_array_equal(grad_hr, 0)
