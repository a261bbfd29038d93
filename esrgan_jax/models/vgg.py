"""VGG19 feature extractor for the perceptual loss, returning features *before* activation (ESRGAN's choice).

Layer names follow torchvision's `vgg19().features` indices (conv1_1 = features.0, ..., conv5_4 = features.34);
`VGG19_LAYERS` lists them in order. Weights are converted from torchvision's file by `esrgan_jax.convert vgg19`.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax.models.layers import Conv

VGG19_STAGES = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))  # (channels, convs) between max-pools
VGG19_LAYERS = tuple(
  name for s, (_, n) in enumerate(VGG19_STAGES, 1) for i in range(1, n + 1) for name in (f'conv{s}_{i}', f'relu{s}_{i}')
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def max_pool_2x2(x: jax.Array) -> jax.Array:
  """2x2 stride-2 max-pool of NHWC (floor mode): [B, H, W, C] -> [B, H/2, W/2, C]."""
  return nn.max_pool(x, (2, 2), strides=(2, 2))


def vgg_convs(
  x: jax.Array,
  stages: Sequence[tuple[int, int]],
  conv: Callable[[int, int, int], nn.Module],
  pool: Callable[[jax.Array], jax.Array] = max_pool_2x2,
) -> Iterator[tuple[int, int, jax.Array, jax.Array]]:
  """The conv stack of a VGG `features` network on x [B, H, W, C]: `stages` holds (channels, convs) per stage, `pool`
  runs before every stage but the first, `conv(channels, s, i)` makes the i-th conv of stage s (both from 1), and each
  conv is followed by a ReLU that the next conv reads. Yields (s, i, conv output, its ReLU) per conv; stop iterating to
  skip the layers after it."""
  for s, (width, n) in enumerate(stages, 1):
    if s > 1:
      x = pool(x)
    for i in range(1, n + 1):
      out = conv(width, s, i)(x)
      x = nn.relu(out)
      yield s, i, out, x


class VGG19Features(nn.Module):
  """x: [B, H, W, 3] RGB in [0, 1] -> {layer: [B, h, w, C]} for each requested `layers` name.

  `convS_I` is the output of a conv before its ReLU, `reluS_I` after it. Only the layers up to the deepest requested
  one are computed. `use_input_norm` applies ImageNet mean/std normalisation first.
  """

  layers: Sequence[str] = ('conv5_4',)
  use_input_norm: bool = True
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
    unknown = sorted(set(self.layers) - set(VGG19_LAYERS))
    if unknown or not self.layers:
      raise ValueError(f'Unknown VGG19 layers {unknown or list(self.layers)}; choose from {VGG19_LAYERS}.')
    last = max(VGG19_LAYERS.index(name) for name in self.layers)
    if self.use_input_norm:
      x = (x - jnp.asarray(IMAGENET_MEAN)) / jnp.asarray(IMAGENET_STD)
    features = {}
    conv = lambda width, s, i: Conv(width, dtype=self.dtype, param_dtype=self.param_dtype, name=f'conv{s}_{i}')
    for s, i, out, activated in vgg_convs(x, VGG19_STAGES, conv):
      for name, value in ((f'conv{s}_{i}', out), (f'relu{s}_{i}', activated)):
        if name in self.layers:
          features[name] = value
      if VGG19_LAYERS.index(f'relu{s}_{i}') >= last:
        break
    return features
