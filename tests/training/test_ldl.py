"""LDL against a PyTorch implementation written here from the paper's Eq. 4-7 (as its official code computes them)."""

import jax
import jax.numpy as jnp
import numpy as np
from helpers import images

from esrgan_jax.training import ldl


def torch_ldl(gt, sr, sr_ema):
  """(loss, d loss / d sr) of the LDL loss in torch, NCHW: the residual summed over channels, the unbiased variance
  of every reflect-padded 7x7 window times the image's unbiased residual variance ** (1/5), zeroed where the EMA
  output's residual is larger, then L1 between the weighted output and the weighted GT."""
  import torch  # pylint: disable=g-import-not-at-top
  import torch.nn.functional as F  # pylint: disable=g-import-not-at-top

  gt, sr, sr_ema = (torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).double() for x in (gt, sr, sr_ema))
  sr.requires_grad_(True)
  r = (gt - sr).abs().sum(1, keepdim=True)
  r_ema = (gt - sr_ema).abs().sum(1, keepdim=True)
  windows = F.pad(r, (3, 3, 3, 3), mode='reflect').unfold(2, 7, 1).unfold(3, 7, 1)  # [B, 1, H, W, 7, 7]
  pixel = windows.flatten(-2).var(-1, unbiased=True)
  patch = r.flatten(1).var(1, unbiased=True).view(-1, 1, 1, 1) ** 0.2
  weight = torch.where(r < r_ema, torch.zeros_like(r), patch * pixel)
  loss = (weight * sr - weight * gt).abs().mean()
  loss.backward()
  return loss.item(), sr.grad.numpy().transpose(0, 2, 3, 1)


def test_ldl_loss_and_gradient_match_the_torch_reference():
  gt = images((2, 20, 24, 3), seed=0)
  sr = np.clip(gt + 0.2 * (images(gt.shape, seed=1) - 0.5), 0, 1)
  sr_ema = np.clip(gt + 0.2 * (images(gt.shape, seed=2) - 0.5), 0, 1)
  loss, grad = jax.value_and_grad(lambda x: ldl.ldl_loss(jnp.asarray(gt), x, jnp.asarray(sr_ema)))(jnp.asarray(sr))
  expected_loss, expected_grad = torch_ldl(gt, sr, sr_ema)
  np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
  assert np.abs(expected_grad).max() > 1e-6
  np.testing.assert_allclose(grad, expected_grad, rtol=0, atol=1e-4 * np.abs(expected_grad).max())
  weight = np.asarray(ldl.artifact_map(gt, sr, sr_ema))
  assert 0 < (weight == 0).mean() < 1  # the EMA refinement zeroes some pixels, not all


def test_ldl_is_zero_where_the_ema_generator_is_worse_everywhere():
  gt = images((1, 16, 16, 3), seed=0)
  sr = np.clip(gt + 0.05, 0, 1)
  assert float(ldl.ldl_loss(gt, sr, 1.0 - gt)) == 0.0
  assert float(ldl.ldl_loss(gt, sr, gt)) > 0.0
