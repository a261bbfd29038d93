"""ESRGAN and SRGAN losses as pure, jit-able functions (BasicSR's formulation: basicsr/models/esrgan_model.py and
srgan_model.py). Images NHWC in [0, 1].

GAN losses take D's logits (any shape, e.g. [B, 1]) and return float32 scalars.
"""

from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp


def l1_loss(pred: jax.Array, target: jax.Array) -> jax.Array:
  """Mean absolute error, computed in float32."""
  return jnp.mean(jnp.abs(pred.astype(jnp.float32) - target.astype(jnp.float32)))


def perceptual_loss(
  features_fn: Callable[[jax.Array], Mapping[str, jax.Array]],
  sr: jax.Array,
  hr: jax.Array,
  layer_weights: Mapping[str, float],
) -> jax.Array:
  """Sum over layers of weight * L1(phi(sr), phi(hr)); phi = `features_fn` (e.g. pre-activation VGG19), hr detached."""
  sr_feats, hr_feats = features_fn(sr), features_fn(jax.lax.stop_gradient(hr))
  return sum(w * l1_loss(sr_feats[k], jax.lax.stop_gradient(hr_feats[k])) for k, w in layer_weights.items())


def bce_with_logits(logits: jax.Array, target: float) -> jax.Array:
  """Mean binary cross-entropy against a constant target 0 or 1, stable for any logit (log-sigmoid form)."""
  logits = logits.astype(jnp.float32)
  return -jnp.mean(jax.nn.log_sigmoid(logits) if target else jax.nn.log_sigmoid(-logits))


def ragan_generator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """Relativistic average GAN loss of G: (BCE(C(x_r) - E[C(x_f)], 0) + BCE(C(x_f) - E[C(x_r)], 1)) / 2.

  The real logits are detached, as in BasicSR's ESRGANModel; gradients reach G through both fake terms.
  """
  real = jax.lax.stop_gradient(real_logits)
  return 0.5 * (bce_with_logits(real - jnp.mean(fake_logits), 0.0) + bce_with_logits(fake_logits - jnp.mean(real), 1.0))


def ragan_discriminator_loss(
  real_logits: jax.Array, fake_logits: jax.Array, detached_fake_logits: jax.Array | None = None
) -> jax.Array:
  """Relativistic average GAN loss of D: real half BCE(C(x_r) - E[C(x_f)], 1)/2 with the fake logits detached,
  plus fake half BCE(C(x_f) - E[C(x_r)], 0)/2 with the real logits detached (BasicSR's split backward passes).
  detached_fake_logits: the real half's C(x_f), from BasicSR's separate first D pass (default fake_logits)."""
  detached_fake = fake_logits if detached_fake_logits is None else detached_fake_logits
  real_term = bce_with_logits(real_logits - jnp.mean(jax.lax.stop_gradient(detached_fake)), 1.0)
  fake_term = bce_with_logits(fake_logits - jnp.mean(jax.lax.stop_gradient(real_logits)), 0.0)
  return 0.5 * (real_term + fake_term)


def vanilla_generator_loss(fake_logits: jax.Array) -> jax.Array:
  """Standard (SRGAN) GAN loss of G, non-saturating: BCE(D(G(x)), 1) (BasicSR's GANLoss('vanilla'), unweighted)."""
  return bce_with_logits(fake_logits, 1.0)


def vanilla_discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """Standard GAN loss of D: BCE(D(x_r), 1) + BCE(D(x_f), 0), the sum of BasicSR's two separate backward passes.

  Pass the fake logits of a detached SR batch; no weight applies (BasicSR weights only G's GAN loss).
  """
  return bce_with_logits(real_logits, 1.0) + bce_with_logits(fake_logits, 0.0)
