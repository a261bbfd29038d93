"""LPIPS v0.1 (Zhang et al. 2018, the `lpips` package): a learned perceptual distance between two images.

Both images pass through an ImageNet backbone (torchvision's AlexNet or VGG16 `features`, read at the ReLU after
each of five stages); every tapped feature vector is scaled to unit length over channels, the squared difference of
the two images' features is weighted per channel by a learned 1x1 convolution (no bias), averaged over space, and the
five layers are summed. Before the backbone, [0, 1] input is mapped to [-1, 1] and then shifted and scaled per channel
by the package's ScalingLayer constants. Weights: `python -m esrgan_jax.convert lpips` (see third_party/lpips).
"""

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax.models.layers import Conv, check_nhwc
from esrgan_jax.models.vgg import max_pool_2x2, vgg_convs

LPIPS_SHIFT = (-0.030, -0.088, -0.188)  # ScalingLayer, on input in [-1, 1]
LPIPS_SCALE = (0.458, 0.448, 0.450)
NORMALIZE_EPS = 1e-10  # added to each feature vector's L2 norm before dividing
# torchvision alexnet().features convs: (name, output channels, kernel, stride, padding); a 3x3 stride-2 max-pool
# precedes conv2 and conv3. Taps: the ReLU after every conv.
ALEXNET_CONVS = (
  ('conv1', 64, 11, 4, 2),
  ('conv2', 192, 5, 1, 2),
  ('conv3', 384, 3, 1, 1),
  ('conv4', 256, 3, 1, 1),
  ('conv5', 256, 3, 1, 1),
)
# torchvision vgg16().features: (channels, 3x3 convs) per stage, 2x2 max-pools between stages. Taps: relu1_2,
# relu2_2, relu3_3, relu4_3, relu5_3 (the ReLU after each stage's last conv).
VGG16_STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
MIN_SIZE = {'alex': 31, 'vgg': 16}  # smallest height/width each backbone reaches its last tap with


def vgg16_taps(x: jax.Array, pool: Callable[[jax.Array], jax.Array] = max_pool_2x2) -> list[jax.Array]:
  """[relu1_2, relu2_2, relu3_3, relu4_3, relu5_3] of torchvision's vgg16().features on x [B, H, W, 3], with
  `pool` between the stages; its convs `conv{s}_{i}` belong to the module whose compact method calls it."""
  conv = lambda width, s, i: Conv(width, name=f'conv{s}_{i}')
  return [activated for s, i, _, activated in vgg_convs(x, VGG16_STAGES, conv, pool) if i == VGG16_STAGES[s - 1][1]]


class AlexNetFeatures(nn.Module):
  """x: [B, H, W, 3] (already scaled) -> [relu1, ..., relu5], [B, h, w, C] with C = 64, 192, 384, 256, 256."""

  @nn.compact
  def __call__(self, x: jax.Array) -> list[jax.Array]:
    taps = []
    for name, width, kernel, stride, padding in ALEXNET_CONVS:
      if name in ('conv2', 'conv3'):
        x = nn.max_pool(x, (3, 3), strides=(2, 2))
      x = nn.relu(Conv(width, kernel_size=kernel, stride=stride, padding=padding, name=name)(x))
      taps.append(x)
    return taps


class VGG16Features(nn.Module):
  """x: [B, H, W, 3] (already scaled) -> [relu1_2, relu2_2, relu3_3, relu4_3, relu5_3] ([B, H / 2^s, W / 2^s, C])."""

  @nn.compact
  def __call__(self, x: jax.Array) -> list[jax.Array]:
    return vgg16_taps(x)


BACKBONES = {'alex': AlexNetFeatures, 'vgg': VGG16Features}


def unit_normalize(features: jax.Array) -> jax.Array:
  """[..., C] divided by its L2 norm over C plus NORMALIZE_EPS."""
  return features / (jnp.sqrt(jnp.sum(features**2, axis=-1, keepdims=True)) + NORMALIZE_EPS)


class LPIPS(nn.Module):
  """(x0, x1): two [B, H, W, 3] RGB batches in [0, 1] -> [B] LPIPS distances (0 for equal images, larger = farther).

  `net` is the backbone: 'alex' (the package's default) or 'vgg'. Params: `backbone` (the convs) and `lin0`..`lin4`
  (1x1 conv kernels [1, 1, C, 1]). Height and width must be at least MIN_SIZE[net].
  """

  net: str = 'alex'

  @nn.compact
  def __call__(self, x0: jax.Array, x1: jax.Array) -> jax.Array:
    if self.net not in BACKBONES:
      raise ValueError(f'Unknown LPIPS backbone {self.net!r}; choose one of {", ".join(BACKBONES)}.')
    check_nhwc(x0, 3, 'LPIPS')
    if x0.shape != x1.shape:
      raise ValueError(f'LPIPS compares images of equal shape, got {x0.shape} and {x1.shape}.')
    if min(x0.shape[1:3]) < MIN_SIZE[self.net]:
      raise ValueError(
        f'LPIPS ({self.net}) needs images of at least {MIN_SIZE[self.net]}x{MIN_SIZE[self.net]} pixels, got '
        f'{x0.shape[1]}x{x0.shape[2]}.'
      )
    x = jnp.concatenate([x0, x1]).astype(jnp.float32) * 2.0 - 1.0
    x = (x - jnp.asarray(LPIPS_SHIFT)) / jnp.asarray(LPIPS_SCALE)
    distance = jnp.zeros(x0.shape[0], jnp.float32)
    for k, features in enumerate(BACKBONES[self.net](name='backbone')(x)):
      f0, f1 = jnp.split(unit_normalize(features), 2)
      weighted = Conv(1, kernel_size=1, padding=0, use_bias=False, name=f'lin{k}')((f0 - f1) ** 2)
      distance += jnp.mean(weighted, axis=(1, 2, 3))
    return distance
