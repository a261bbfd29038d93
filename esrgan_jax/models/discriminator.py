"""VGG-style discriminator of ESRGAN/SRGAN for 128x128 (or 256x256) inputs, laid out like BasicSR's
`VGGStyleDiscriminator`: parameter names `conv{i}_{j}`, `bn{i}_1`, `linear1`, `linear2`."""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax.models.layers import Conv, Dense, batch_norm, lrelu


class VGGStyleDiscriminator(nn.Module):
  """x: [B, input_size, input_size, num_in_ch] in [0, 1] -> logits [B, 1] (no sigmoid).

  Each stage is a 3x3 conv and a 4x4 stride-2 conv + BatchNorm (torch's: momentum 0.1, eps 1e-5, unbiased running var),
  LeakyReLU 0.2 after each. `train=True` uses batch statistics and updates `batch_stats` (mark it mutable).
  """

  num_in_ch: int = 3
  num_feat: int = 64
  input_size: int = 128
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    if self.input_size not in (128, 256):
      raise ValueError(f'VGGStyleDiscriminator supports input_size 128 or 256, got {self.input_size}.')
    if x.ndim != 4 or x.shape[1:] != (self.input_size, self.input_size, self.num_in_ch):
      raise ValueError(
        f'VGGStyleDiscriminator(input_size={self.input_size}) expects input of shape '
        f'[B, {self.input_size}, {self.input_size}, {self.num_in_ch}], got {x.shape}. Crop or resize '
        f'the patches (gt_size) to {self.input_size}, or set input_size to 128/256.'
      )
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    norm = lambda name: batch_norm(train, name, **kw)
    widths = [self.num_feat * m for m in (1, 2, 4, 8, 8)] + ([self.num_feat * 8] if self.input_size == 256 else [])
    for i, width in enumerate(widths):
      if i == 0:
        x = lrelu(Conv(width, name='conv0_0', **kw)(x))
      else:
        x = lrelu(norm(f'bn{i}_0')(Conv(width, use_bias=False, name=f'conv{i}_0', **kw)(x)))
      x = Conv(width, kernel_size=4, stride=2, padding=1, use_bias=False, name=f'conv{i}_1', **kw)(x)
      x = lrelu(norm(f'bn{i}_1')(x))
    x = x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)  # flatten in torch's NCHW order, so linear1 maps 1:1
    x = lrelu(Dense(100, name='linear1', **kw)(x))
    return Dense(1, name='linear2', **kw)(x)
