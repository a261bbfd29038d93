"""Real-ESRGAN's U-Net discriminator with spectral normalisation (`UNetDiscriminatorSN`), per-pixel logits.

Layout (Real-ESRGAN's names): conv0 (3x3, bias); conv1-conv3 4x4 stride-2 downsampling; conv4-conv6 3x3 after x2
bilinear upsampling (align_corners=False), each added to the encoder feature of the same size when skip_connection;
conv7, conv8 3x3; conv9 3x3 to one channel (bias). LeakyReLU 0.2 after every conv but conv9. conv1-conv8 have no
bias and are spectrally normalised as `torch.nn.utils.spectral_norm` does: the kernel is divided by
sigma = u . (W v) with W the [out, in * kh * kw] matrix in torch's OIHW order; in training, one power iteration
first updates v = normalize(W^T u), u = normalize(W v) (eps 1e-12), stored in the 'spectral' collection (mark it
mutable); in evaluation the stored u, v are used as they are.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax.models.layers import Conv, lrelu, torch_kernel_init

SPECTRAL_EPS = 1e-12  # torch.nn.utils.spectral_norm's eps


def _normalize(x: jax.Array) -> jax.Array:
  """x / max(|x|, eps), torch.nn.functional.normalize."""
  return x / jnp.maximum(jnp.linalg.norm(x), SPECTRAL_EPS)


def spectral_normalize(kernel: jax.Array, u: jax.Array, v: jax.Array, update: bool):
  """HWIO kernel / sigma, and the (u, v) used (after one power iteration when `update`); no gradient through u, v."""
  matrix = kernel.transpose(3, 2, 0, 1).reshape(kernel.shape[3], -1)  # torch's weight.reshape(out, -1)
  if update:
    frozen = jax.lax.stop_gradient(matrix)
    v = _normalize(frozen.T @ u)
    u = _normalize(frozen @ v)
  u, v = jax.lax.stop_gradient(u), jax.lax.stop_gradient(v)
  sigma = jnp.dot(u, matrix @ v, precision=jax.lax.Precision.HIGHEST)
  return kernel / sigma, u, v


class SpectralConv(nn.Module):
  """Bias-free conv with a spectrally normalised kernel; params `kernel` (torch's weight_orig, HWIO), 'spectral'
  variables `u` [out] and `v` [in * k * k] (weight_u, weight_v)."""

  features: int
  kernel_size: int
  stride: int = 1
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    shape = (self.kernel_size, self.kernel_size, x.shape[-1], self.features)
    kernel = self.param('kernel', torch_kernel_init, shape, self.param_dtype)
    init_vector = lambda n: _normalize(jax.random.normal(self.make_rng('params'), (n,), self.param_dtype))
    u = self.variable('spectral', 'u', init_vector, self.features)
    v = self.variable('spectral', 'v', init_vector, x.shape[-1] * self.kernel_size**2)
    update = train and not self.is_initializing()
    kernel, new_u, new_v = spectral_normalize(kernel, u.value, v.value, update)
    if update:
      u.value, v.value = new_u, new_v
    x, kernel = nn.dtypes.promote_dtype(x, kernel, dtype=self.dtype)
    return jax.lax.conv_general_dilated(
      x, kernel, (self.stride,) * 2, [(1, 1)] * 2, dimension_numbers=('NHWC', 'HWIO', 'NHWC')
    )


def upsample2(x: jax.Array) -> jax.Array:
  """x2 bilinear upsampling of NHWC with half-pixel centres (torch's align_corners=False)."""
  b, h, w, c = x.shape
  return jax.image.resize(x, (b, 2 * h, 2 * w, c), 'bilinear')


class UNetDiscriminatorSN(nn.Module):
  """x: [B, H, W, num_in_ch] in [0, 1], H and W multiples of 8 -> per-pixel logits [B, H, W, 1] (no sigmoid).

  `train=True` runs the spectral-norm power iteration and updates 'spectral' (apply with mutable=['spectral']).
  """

  num_in_ch: int = 3
  num_feat: int = 64
  skip_connection: bool = True
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    if x.ndim != 4 or x.shape[-1] != self.num_in_ch or x.shape[1] % 8 or x.shape[2] % 8:
      raise ValueError(
        f'UNetDiscriminatorSN expects [B, H, W, {self.num_in_ch}] input with H and W multiples of 8, got '
        f'{x.shape}: crop the patches (gt_size) to a multiple of 8.'
      )
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    sn = lambda i, features, size, stride=1: SpectralConv(features, size, stride, name=f'conv{i}', **kw)
    f = self.num_feat
    x0 = lrelu(Conv(f, name='conv0', **kw)(x))
    x1 = lrelu(sn(1, 2 * f, 4, 2)(x0, train))
    x2 = lrelu(sn(2, 4 * f, 4, 2)(x1, train))
    x3 = lrelu(sn(3, 8 * f, 4, 2)(x2, train))
    skip = (lambda up, enc: up + enc) if self.skip_connection else (lambda up, enc: up)
    x4 = skip(lrelu(sn(4, 4 * f, 3)(upsample2(x3), train)), x2)
    x5 = skip(lrelu(sn(5, 2 * f, 3)(upsample2(x4), train)), x1)
    x6 = skip(lrelu(sn(6, f, 3)(upsample2(x5), train)), x0)
    out = lrelu(sn(7, f, 3)(x6, train))
    out = lrelu(sn(8, f, 3)(out, train))
    return Conv(1, name='conv9', **kw)(out)
