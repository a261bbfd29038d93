"""RRDBNet's dense block with its 128-input-channel convs computed as two 64-channel convs, for XLA:CPU.

XLA:CPU (jaxlib 0.10, YNNPACK) runs a 3x3 conv with exactly 128 input channels (conv3 of every RDB at the default
widths) on one core; as the sum of two convs over the halves of its input channels it uses all cores
(benchmarks/thread_profile.py). Same params and results up to float rounding; `esrgan_jax.runtime.for_platform`
chooses it on CPU.
"""

from typing import Any

import jax
import jax.numpy as jnp

from esrgan_jax.models.layers import Conv
from esrgan_jax.models.rrdbnet import ResidualDenseBlock

SPLIT_CHANNELS = 128  # input width of each RDB's conv3 with the default widths


class HalvedInputConv(Conv):
  """`Conv` computed as the sum of two convs, over input channels [:Cin/2] and [Cin/2:] (same params)."""

  def convolve(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
    s = x.shape[-1] // 2
    return super().convolve(x[..., :s], kernel[:, :, :s]) + super().convolve(x[..., s:], kernel[:, :, s:])


class SplitConvDenseBlock(ResidualDenseBlock):
  """`ResidualDenseBlock` whose convs with exactly SPLIT_CHANNELS input channels are `HalvedInputConv`s."""

  def dense_conv(self, features: int, name: str, held: list[Any]) -> jax.Array:
    x = jnp.concatenate(held, axis=-1)
    conv = HalvedInputConv if x.shape[-1] == SPLIT_CHANNELS else Conv
    return conv(features, name=name, **self.conv_fields())(x)
