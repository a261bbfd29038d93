"""SRVGGNetCompact, Real-ESRGAN's compact generator (`realesr-general-x4v3`, `realesr-animevideov3`).

A plain stack of 3x3 convs on the LR image with the upsampling in the last layer: `body_0` conv (in -> num_feat),
activation `body_1`, then `num_conv` x (conv, activation), then a conv to num_out_ch * scale**2 channels, a pixel
shuffle (torch channel order) and the nearest-upsampled input added. Module names `body_{i}` are the indices of
Real-ESRGAN's `body` ModuleList, so its state dicts (`body.{i}.weight`) map one to one; a PReLU activation holds
`body_{i}/negative_slope` [num_feat], torch's `body.{i}.weight`.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax.models.layers import Conv, check_nhwc, lrelu, pixel_shuffle, upsample_nearest

ACT_TYPES = ('prelu', 'leakyrelu', 'relu')


class PReLU(nn.Module):
  """`torch.nn.PReLU(num_parameters=C)`: max(x, 0) + slope_c * min(x, 0) per channel; slopes start at 0.25."""

  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    slope = self.param('negative_slope', nn.initializers.constant(0.25), (x.shape[-1],), self.param_dtype)
    return jnp.where(x >= 0, x, slope.astype(x.dtype) * x)


class SRVGGNetCompact(nn.Module):
  """Compact SR net. x: [B, H, W, num_in_ch] in [0, 1] -> [B, H*scale, W*scale, num_out_ch] (not clipped).

  `act_type`: 'prelu' (a learned slope per channel), 'leakyrelu' (slope 0.1) or 'relu'. `scale` is Real-ESRGAN's
  `upscale` (any integer >= 1). Convs keep PyTorch's default init. `dtype` is the compute dtype (e.g. bfloat16),
  `param_dtype` the storage dtype of the params.
  """

  num_in_ch: int = 3
  num_out_ch: int = 3
  scale: int = 4
  num_feat: int = 64
  num_conv: int = 16
  act_type: str = 'prelu'
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """`train` is accepted for the generator interface and changes nothing (no BatchNorm)."""
    if self.act_type not in ACT_TYPES:
      raise ValueError(f'SRVGGNetCompact act_type must be one of {ACT_TYPES}, got {self.act_type!r}.')
    if self.scale < 1:
      raise ValueError(f'SRVGGNetCompact scale must be an integer >= 1, got {self.scale}.')
    if self.num_out_ch != self.num_in_ch:
      raise ValueError(
        f'SRVGGNetCompact adds the upsampled input to its output, so num_out_ch ({self.num_out_ch}) must equal '
        f'num_in_ch ({self.num_in_ch}).'
      )
    check_nhwc(x, self.num_in_ch, 'SRVGGNetCompact')
    conv = lambda features, index: Conv(features, dtype=self.dtype, param_dtype=self.param_dtype, name=f'body_{index}')
    out = x
    for layer in range(self.num_conv + 1):  # body.{2*layer} is a conv, body.{2*layer + 1} its activation
      out = conv(self.num_feat, 2 * layer)(out)
      if self.act_type == 'prelu':
        out = PReLU(self.param_dtype, name=f'body_{2 * layer + 1}')(out)
      else:
        out = nn.relu(out) if self.act_type == 'relu' else lrelu(out, 0.1)
    out = pixel_shuffle(conv(self.num_out_ch * self.scale**2, 2 * self.num_conv + 2)(out), self.scale)
    base = upsample_nearest(x, self.scale)
    return out + base.astype(out.dtype)
