"""Convolution, dense and BatchNorm layers with PyTorch's defaults and semantics, NHWC pixel (un)shuffle, nearest
upsampling and LeakyReLU.

PyTorch's default `nn.Conv2d` / `nn.Linear` init draws weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
Flax can draw the weights that way (`variance_scaling(1/3, 'fan_in', 'uniform')`), but bias initialisers get no
fan-in, so these wrappers build the bias init from the input's channel count.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

torch_kernel_init = nn.initializers.variance_scaling(1.0 / 3.0, 'fan_in', 'uniform')


def kaiming_normal_init(scale: float = 1.0) -> nn.initializers.Initializer:
  """`torch.nn.init.kaiming_normal_` (fan_in, gain sqrt(2)) multiplied by `scale`."""
  return nn.initializers.variance_scaling(2.0 * scale**2, 'fan_in', 'normal')


def torch_bias_init(fan_in: int) -> nn.initializers.Initializer:
  """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default bias init."""
  bound = fan_in**-0.5

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


class Conv(nn.Module):
  """Conv2d with PyTorch's zero padding and default init; params `kernel` [k, k, Cin, Cout] (HWIO) and `bias`.

  `kernel_init=None` means PyTorch's default; a given `kernel_init` comes with a zero bias (the RDB init). Subclasses
  that compute the same conv another way (the CPU implementations of RRDBNet's dense block) override `convolve` or
  take another input, keeping the params (`kernel_and_bias`).
  """

  features: int
  kernel_size: int = 3
  stride: int = 1
  padding: int = 1
  use_bias: bool = True
  kernel_init: nn.initializers.Initializer | None = None
  dtype: Any = None
  param_dtype: Any = jnp.float32

  def kernel_and_bias(self, channels: int) -> tuple[jax.Array, jax.Array | None]:
    """The params for `channels` input channels: `kernel` [k, k, channels, features] and `bias` [features] (None
    without bias)."""
    if self.kernel_init is None:
      kernel_init, bias_init = torch_kernel_init, torch_bias_init(channels * self.kernel_size**2)
    else:
      kernel_init, bias_init = self.kernel_init, nn.initializers.zeros
    kernel = self.param(
      'kernel', kernel_init, (self.kernel_size, self.kernel_size, channels, self.features), self.param_dtype
    )
    bias = self.param('bias', bias_init, (self.features,), self.param_dtype) if self.use_bias else None
    return kernel, bias

  def convolve(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
    """x: [B, H, W, Cin], kernel: [k, k, Cin, Cout] -> the conv without bias, [B, H', W', Cout]."""
    return jax.lax.conv_general_dilated(
      x, kernel, (self.stride,) * 2, [(self.padding,) * 2] * 2, dimension_numbers=('NHWC', 'HWIO', 'NHWC')
    )

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x: [B, H, W, Cin] -> [B, H', W', features]."""
    kernel, bias = self.kernel_and_bias(x.shape[-1])
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    y = self.convolve(x, kernel)
    return y if bias is None else y + bias


class Dense(nn.Module):
  """`torch.nn.Linear` with its default init; params `kernel` [in, out] and `bias`."""

  features: int
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param('kernel', torch_kernel_init, (x.shape[-1], self.features), self.param_dtype)
    bias = self.param('bias', torch_bias_init(x.shape[-1]), (self.features,), self.param_dtype)
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    return x @ kernel + bias


def check_nhwc(x: jax.Array, channels: int, arch: str) -> None:
  """Raises ValueError unless x is [B, H, W, channels]."""
  if x.ndim != 4 or x.shape[-1] != channels:
    raise ValueError(f'{arch} expects NHWC input with {channels} channels, got shape {x.shape}.')


BN_EPSILON = 1e-5  # torch.nn.BatchNorm2d's eps
TORCH_BN_MOMENTUM = 0.1  # torch's weight of the new batch statistic (flax momentum 0.9)


class BatchNorm(nn.Module):
  """`torch.nn.BatchNorm2d` over the last axis: params `scale`, `bias`; batch_stats `mean`, `var` (flax's layout).

  With `use_running_average=False` it normalises by the batch's mean and biased variance over all other axes and,
  outside init, moves the running statistics by torch's momentum 0.1: `mean <- 0.9 mean + 0.1 batch_mean` and
  `var <- 0.9 var + 0.1 batch_var * n / (n - 1)` with n the values per channel (batch x H x W): torch keeps the
  unbiased variance, flax's `nn.BatchNorm` the biased one. Statistics are computed in float32.
  """

  use_running_average: bool
  epsilon: float = BN_EPSILON
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x: [..., C] -> same shape, in `dtype` (default: x's promoted with the params')."""
    features = x.shape[-1]
    running_mean = self.variable('batch_stats', 'mean', lambda: jnp.zeros((features,), jnp.float32))
    running_var = self.variable('batch_stats', 'var', lambda: jnp.ones((features,), jnp.float32))
    scale = self.param('scale', nn.initializers.ones, (features,), self.param_dtype)
    bias = self.param('bias', nn.initializers.zeros, (features,), self.param_dtype)
    if self.use_running_average:
      mean, var = running_mean.value, running_var.value
    else:
      axes = tuple(range(x.ndim - 1))
      x32 = x.astype(jnp.float32)
      mean = x32.mean(axes)
      var = jnp.square(x32 - mean).mean(axes)
      if not self.is_initializing():
        n = x.size // features
        running_mean.value = TORCH_BN_MOMENTUM * mean + (1 - TORCH_BN_MOMENTUM) * running_mean.value
        running_var.value = TORCH_BN_MOMENTUM * var * (n / max(n - 1, 1)) + (1 - TORCH_BN_MOMENTUM) * running_var.value
    factor = jax.lax.rsqrt(var + self.epsilon) * scale.astype(jnp.float32)
    y = (x.astype(jnp.float32) - mean) * factor + bias.astype(jnp.float32)
    return y.astype(self.dtype or jnp.result_type(x, scale))


def batch_norm(train: bool, name: str, dtype: Any = None, param_dtype: Any = jnp.float32) -> BatchNorm:
  """`torch.nn.BatchNorm2d` (see `BatchNorm`): batch statistics and `batch_stats` updates when `train`, running
  statistics otherwise."""
  return BatchNorm(use_running_average=not train, dtype=dtype, param_dtype=param_dtype, name=name)


def pixel_unshuffle(x: jax.Array, factor: int) -> jax.Array:
  """[B, H, W, C] -> [B, H/f, W/f, C*f*f] with torch's channel order `c*f*f + i*f + j`."""
  b, h, w, c = x.shape
  if h % factor or w % factor:
    raise ValueError(
      f'pixel_unshuffle by {factor} needs H and W divisible by {factor}, got {h}x{w}: '
      f'pad or crop the input to a multiple of {factor} first.'
    )
  x = x.reshape(b, h // factor, factor, w // factor, factor, c)
  x = x.transpose(0, 1, 3, 5, 2, 4)
  return x.reshape(b, h // factor, w // factor, c * factor * factor)


def pixel_shuffle(x: jax.Array, factor: int) -> jax.Array:
  """[B, H, W, C*f*f] -> [B, H*f, W*f, C], inverse of `pixel_unshuffle` (torch channel order `c*f*f + i*f + j`)."""
  b, h, w, channels = x.shape
  if channels % (factor * factor):
    raise ValueError(f'pixel_shuffle by {factor} needs channels divisible by {factor * factor}, got {channels}.')
  c = channels // (factor * factor)
  x = x.reshape(b, h, w, c, factor, factor)
  x = x.transpose(0, 1, 4, 2, 5, 3)
  return x.reshape(b, h * factor, w * factor, c)


def upsample_nearest(x: jax.Array, factor: int = 2) -> jax.Array:
  """Nearest-neighbour upsampling of NHWC by an integer factor: [B, H, W, C] -> [B, H*f, W*f, C], as
  `F.interpolate(scale_factor=factor, mode='nearest')`."""
  return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def lrelu(x: jax.Array, negative_slope: float = 0.2) -> jax.Array:
  """LeakyReLU; 0.2 is ESRGAN's slope (RRDBNet, the discriminators), SRResNet and SRVGGNetCompact use 0.1."""
  return nn.leaky_relu(x, negative_slope)
