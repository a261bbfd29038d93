"""MINCNet: the material-recognition VGG16 (trained on MINC) of ESRGAN's PIRM entry, for a perceptual loss on conv53.

Layer names follow ESRGAN's `MINCNet` (`conv11` ... `conv53`), so `VGG16minc_53.pth` maps one to one (see
`esrgan_jax.convert minc`). Max-pools use ceil mode, as the torch original: odd sizes keep their last row/column.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax.models.layers import Conv
from esrgan_jax.models.vgg import vgg_convs

MINC_GROUPS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (channels, convs) between max-pools


def max_pool_ceil(x: jax.Array) -> jax.Array:
  """2x2 stride-2 max-pool of NHWC in ceil mode: [B, H, W, C] -> [B, ceil(H/2), ceil(W/2), C]."""
  return nn.max_pool(x, (2, 2), strides=(2, 2), padding=((0, x.shape[1] % 2), (0, x.shape[2] % 2)))


class MINCNet(nn.Module):
  """x: [B, H, W, 3] RGB in [0, 1] (no mean/std normalisation) -> {'conv53': [B, h, w, 512]}, conv53 before ReLU.

  h = H halved four times, rounding up. The dict output plugs into `esrgan_jax.training.losses.perceptual_loss`.
  """

  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
    conv = lambda width, g, i: Conv(width, dtype=self.dtype, param_dtype=self.param_dtype, name=f'conv{g}{i}')
    *_, (_, _, conv53, _) = vgg_convs(x, MINC_GROUPS, conv, max_pool_ceil)
    return {'conv53': conv53}
