"""MSRResNet, the SRResNet baseline of the ESRGAN paper, laid out like BasicSR's `MSRResNet`.

Parameter names follow BasicSR (`conv_first`, `body_{i}/conv{1,2}`, `upconv1`, `upconv2`, `conv_hr`, `conv_last`), so
its weights map one to one (see `esrgan_jax.convert`). `use_bn=True` adds SRGAN's BatchNorm layers (`body_{i}/bn{1,2}`),
the setting the ESRGAN paper removes; fold them into the convs with `esrgan_jax.models.fold_batch_norm` for inference.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax.models.layers import Conv, batch_norm, check_nhwc, kaiming_normal_init, lrelu, pixel_shuffle

SCALES = (2, 3, 4)
SLOPE = 0.1  # MSRResNet's LeakyReLU negative slope


class ResidualBlock(nn.Module):
  """`x + conv2(relu(conv1(x)))`, or `x + bn2(conv2(relu(bn1(conv1(x)))))` with `use_bn`. x: [B, H, W, num_feat]."""

  num_feat: int = 64
  use_bn: bool = False
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    out = x
    for j in (1, 2):
      out = Conv(self.num_feat, kernel_init=kaiming_normal_init(0.1), name=f'conv{j}', **kw)(out)
      if self.use_bn:
        out = batch_norm(train, f'bn{j}', **kw)(out)
      if j == 1:
        out = nn.relu(out)
    return x + out


class MSRResNet(nn.Module):
  """SRResNet. x: [B, H, W, num_in_ch] in [0, 1] -> [B, H*scale, W*scale, num_out_ch] (not clipped).

  `num_block` residual blocks without a long skip, sub-pixel upsampling (x4 as two x2 pixel shuffles, x2/x3 as one),
  plus a bilinear upsampling of the input (torch `align_corners=False`). All convs get BasicSR's init: Kaiming normal
  scaled by 0.1, zero bias. `train` matters only with `use_bn` (batch statistics; mark `batch_stats` mutable).
  `dtype` is the compute dtype (e.g. bfloat16), `param_dtype` the storage dtype of the params.
  """

  num_in_ch: int = 3
  num_out_ch: int = 3
  scale: int = 4
  num_feat: int = 64
  num_block: int = 16
  use_bn: bool = False
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    if self.scale not in SCALES:
      raise ValueError(f'MSRResNet scale must be one of {SCALES}, got {self.scale}.')
    check_nhwc(x, self.num_in_ch, 'MSRResNet')
    if self.num_out_ch != self.num_in_ch:
      raise ValueError(
        f'MSRResNet adds the upsampled input to its output, so num_out_ch ({self.num_out_ch}) must '
        f'equal num_in_ch ({self.num_in_ch}).'
      )
    conv = lambda features, name: Conv(
      features, kernel_init=kaiming_normal_init(0.1), dtype=self.dtype, param_dtype=self.param_dtype, name=name
    )
    feat = lrelu(conv(self.num_feat, 'conv_first')(x), SLOPE)
    for i in range(self.num_block):
      feat = ResidualBlock(self.num_feat, self.use_bn, self.dtype, self.param_dtype, name=f'body_{i}')(feat, train)
    steps = (2, 2) if self.scale == 4 else (self.scale,)
    for k, factor in enumerate(steps, 1):
      feat = lrelu(pixel_shuffle(conv(self.num_feat * factor * factor, f'upconv{k}')(feat), factor), SLOPE)
    out = conv(self.num_out_ch, 'conv_last')(lrelu(conv(self.num_feat, 'conv_hr')(feat), SLOPE))
    b, h, w, c = x.shape
    return out + jax.image.resize(x, (b, h * self.scale, w * self.scale, c), 'bilinear').astype(out.dtype)
