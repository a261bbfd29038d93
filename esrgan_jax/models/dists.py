"""DISTS (Ding, Ma, Wang, Simoncelli, "Image Quality Assessment: Unifying Structure and Texture Similarity", TPAMI
2020; the `dists-pytorch` package): a full-reference distance from structure and texture statistics of VGG16 features.

Both images pass through torchvision's ImageNet VGG16 `features` (after ImageNet mean/std normalisation), with every
max-pool replaced by an L2 pooling (a 3x3 Hann-window blur of the squared features, stride 2, then the square root).
Six feature maps are compared: the [0, 1] image itself and relu1_2, relu2_2, relu3_3, relu4_3, relu5_3. Per map and
channel, the texture term compares the spatial means, (2 mx my + c) / (mx^2 + my^2 + c), and the structure term the
spatial (population) variances and covariance, (2 cov + c) / (vx + vy + c), c = 1e-6; the 1475 learned weights alpha
and beta (one per channel and term, divided by their total sum) combine them, and the distance is 1 - the weighted
sum. Weights: `python -m esrgan_jax.convert dists` (see esrgan_jax.weights.dists_weights).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from esrgan_jax.models.layers import check_nhwc
from esrgan_jax.models.lpips import vgg16_taps

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CHANNELS = (3, 64, 128, 256, 512, 512)  # the compared maps: the image, then each VGG16 stage's last ReLU
STABILITY = 1e-6  # c1 = c2 of both similarity terms
L2_POOL_EPS = 1e-12  # added before the square root of the pooled squares
MIN_SIZE = 16  # the fourth L2 pooling (stride 2, padding 1) needs an input of at least 2x2 to keep pixels


def l2_pool(x: jax.Array) -> jax.Array:
  """[B, H, W, C] -> [B, ceil(H/2), ceil(W/2), C]: sqrt(Hann-blurred x^2 + eps) with stride 2 and zero padding 1.
  The window is np.hanning(5)[1:-1] = (0.5, 1, 0.5) outer itself, normalised to sum 1."""
  taps = np.hanning(5)[1:-1]
  window = np.outer(taps, taps) / np.outer(taps, taps).sum()
  channels = x.shape[-1]
  kernel = jnp.asarray(np.tile(window[:, :, None, None], (1, 1, 1, channels)), x.dtype)
  pooled = jax.lax.conv_general_dilated(
    x**2,
    kernel,
    window_strides=(2, 2),
    padding=((1, 1), (1, 1)),
    dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
    feature_group_count=channels,
    precision=jax.lax.Precision.HIGHEST,
  )
  return jnp.sqrt(pooled + L2_POOL_EPS)


class DISTSFeatures(nn.Module):
  """x: [B, H, W, 3] (ImageNet-normalised) -> [relu1_2, relu2_2, relu3_3, relu4_3, relu5_3] of VGG16 with L2
  pooling between the stages. Params `conv{stage}_{i}` as in `esrgan_jax.models.lpips.VGG16Features`."""

  @nn.compact
  def __call__(self, x: jax.Array) -> list[jax.Array]:
    return vgg16_taps(x, l2_pool)


def _similarity(f0: jax.Array, f1: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Texture (means) and structure (variances, covariance) similarity per channel of two [B, H, W, C] maps: [B, C]."""
  m0, m1 = jnp.mean(f0, axis=(1, 2)), jnp.mean(f1, axis=(1, 2))
  v0 = jnp.mean((f0 - m0[:, None, None]) ** 2, axis=(1, 2))
  v1 = jnp.mean((f1 - m1[:, None, None]) ** 2, axis=(1, 2))
  cov = jnp.mean(f0 * f1, axis=(1, 2)) - m0 * m1
  texture = (2 * m0 * m1 + STABILITY) / (m0**2 + m1**2 + STABILITY)
  structure = (2 * cov + STABILITY) / (v0 + v1 + STABILITY)
  return texture, structure


class DISTS(nn.Module):
  """(x0, x1): two [B, H, W, 3] RGB batches in [0, 1] -> [B] DISTS distances (0 for equal images, larger = farther).

  Params: `backbone` (VGG16's 13 convs), `alpha` and `beta` ([1475] each, the package's learned weights; 3 + 64 +
  128 + 256 + 512 + 512 channels). Height and width must be at least MIN_SIZE.
  """

  @nn.compact
  def __call__(self, x0: jax.Array, x1: jax.Array) -> jax.Array:
    check_nhwc(x0, 3, 'DISTS')
    if x0.shape != x1.shape:
      raise ValueError(f'DISTS compares images of equal shape, got {x0.shape} and {x1.shape}.')
    if min(x0.shape[1:3]) < MIN_SIZE:
      raise ValueError(f'DISTS needs images of at least {MIN_SIZE}x{MIN_SIZE} pixels, got {x0.shape[1]}x{x0.shape[2]}.')
    alpha = self.param('alpha', nn.initializers.constant(0.1), (sum(CHANNELS),))
    beta = self.param('beta', nn.initializers.constant(0.1), (sum(CHANNELS),))
    x = jnp.concatenate([x0, x1]).astype(jnp.float32)
    normalised = (x - jnp.asarray(IMAGENET_MEAN)) / jnp.asarray(IMAGENET_STD)
    maps = [x, *DISTSFeatures(name='backbone')(normalised)]
    total = jnp.sum(alpha) + jnp.sum(beta)
    offsets = np.cumsum((0, *CHANNELS))
    score = jnp.zeros(x0.shape[0], jnp.float32)
    for k, features in enumerate(maps):
      texture, structure = _similarity(*jnp.split(features, 2))
      a, b = (w[offsets[k] : offsets[k + 1]] / total for w in (alpha, beta))
      score += texture @ a + structure @ b
    return 1.0 - score
