"""3x3 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray 2016): 4x fewer multiplications.

Each 4x4 block of outputs comes from a 6x6 window of the zero-padded input (windows at stride 4). The windows and the
kernel are taken to a 6x6 transform domain (`B^T d B`, `G g G^T`), where the conv becomes 36 independent [windows, Cin]
x [Cin, Cout] matrix products, and the products are taken back with `A^T m A` (interpolation points 0, +-1, +-2 and
infinity). The input transform is linear per channel, so the tiles of a channel concatenation are the concatenation of
the tiles: a dense block transforms each feature once however many convs read it (`Tiles`, `input_tiles`,
`WinogradConv`, `WinogradDenseBlock`). Same results as `lax.conv_general_dilated` with padding 1 up to float32 rounding
(a few 1e-6 of the output's scale). On XLA:CPU with XLA's own convs (jaxlib 0.10, AVX2) `WinogradDenseBlock` runs
RRDBNet's dense blocks faster than `ResidualDenseBlock` (benchmarks/RESULTS.md); `esrgan_jax.inference.apply` chooses
it at run time, with the same params.
"""

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from esrgan_jax.models.layers import Conv
from esrgan_jax.models.rrdbnet import ResidualDenseBlock

TILE = 4  # outputs per window side
WINDOW = TILE + 2  # input (and transform domain) size per window side
_BT = np.array(  # input transform B^T
  [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
  ],
  np.float32,
)
_G = np.array(  # kernel transform
  [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
  ],
  np.float32,
)
_AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], np.float32)


@dataclasses.dataclass(frozen=True)
class Tiles:
  """A [N, height, width, C] input in the transform domain: `values` [36, N * rows * cols, C], rows = ceil(height/4),
  cols = ceil(width/4), windows in (n, row, col) order."""

  values: jax.Array
  height: int
  width: int

  @property
  def channels(self) -> int:
    return self.values.shape[-1]


def concatenate(tiles: list[Tiles]) -> Tiles:
  """The tiles of the inputs' concatenation on channels (all of one spatial size)."""
  return Tiles(jnp.concatenate([t.values for t in tiles], axis=-1), tiles[0].height, tiles[0].width)


def _combine(coefficients: np.ndarray, terms: list[jax.Array]) -> jax.Array:
  """sum_j coefficients[j] * terms[j], skipping zeros and multiplying by +-1 as adds and subtracts."""
  out = None
  for c, term in zip(coefficients.tolist(), terms):
    if c == 0:
      continue
    term = term if c == 1 else -term if c == -1 else term * c
    out = term if out is None else out + term
  return out


def _input_transform(x: jax.Array, axis: int) -> list[jax.Array]:
  """B^T along `axis` of a padded input (length 4 * windows + 2): its 6 rows for every window (stride 4)."""
  windows = (x.shape[axis] - 2) // TILE
  terms = [lax.slice_in_dim(x, i, i + TILE * (windows - 1) + 1, TILE, axis) for i in range(WINDOW)]
  return [_combine(row, terms) for row in _BT]


def _output_transform(m: jax.Array) -> list[jax.Array]:
  """A^T along the leading axis of size 6: the 4 outputs of each window."""
  return [_combine(row, list(m)) for row in _AT]


def input_tiles(x: jax.Array) -> Tiles:
  """x: [N, H, W, C] -> its Tiles for a 3x3 conv with zero padding 1 (H, W padded with zeros to multiples of 4)."""
  n, h, w, c = x.shape
  rows, cols = -(-h // TILE), -(-w // TILE)
  padded = jnp.pad(x, ((0, 0), (1, 1 + rows * TILE - h), (1, 1 + cols * TILE - w), (0, 0)))
  v = jnp.stack([jnp.stack(_input_transform(r, 2)) for r in _input_transform(padded, 1)])  # [6, 6, N, rows, cols, C]
  return Tiles(v.reshape(WINDOW * WINDOW, n * rows * cols, c), h, w)


def kernel_tiles(kernel: jax.Array) -> jax.Array:
  """kernel: [3, 3, Cin, Cout] (HWIO) -> [36, Cin, Cout]: one [36, 9] x [9, Cin * Cout] product (no transposes)."""
  g = np.kron(_G, _G).astype(kernel.dtype)  # row 6a + b, column 3i + j: G[a, i] * G[b, j]
  return (g @ kernel.reshape(9, -1)).reshape(WINDOW * WINDOW, *kernel.shape[2:])


def conv_tiles(tiles: Tiles, kernel: jax.Array) -> jax.Array:
  """The 3x3 conv (stride 1, zero padding 1, no bias) of the input `tiles` hold: -> [N, height, width, Cout]."""
  rows, cols = -(-tiles.height // TILE), -(-tiles.width // TILE)
  m = lax.dot_general(tiles.values, kernel_tiles(kernel), (((2,), (1,)), ((0,), (0,))))
  m = m.reshape(WINDOW, WINDOW, -1, rows, cols, m.shape[-1])
  y = jnp.stack([jnp.stack(_output_transform(r), axis=-2) for r in _output_transform(m)], axis=2)  # [N,rows,4,cols,4,D]
  return y.reshape(-1, rows * TILE, cols * TILE, m.shape[-1])[:, : tiles.height, : tiles.width]


def conv3x3(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """x: [N, H, W, Cin], kernel: [3, 3, Cin, Cout] (HWIO) -> [N, H, W, Cout]: stride 1, zero padding 1, no bias."""
  return conv_tiles(input_tiles(x), kernel)


class WinogradConv(Conv):
  """`Conv` (3x3, stride 1, padding 1) of the input its `Tiles` hold, by F(4x4, 3x3): the same params and results up
  to rounding. Tiles: [N, H, W, Cin] in the transform domain -> [N, H, W, features]."""

  @nn.compact
  def __call__(self, tiles: Tiles) -> jax.Array:
    if (self.kernel_size, self.stride, self.padding) != (3, 1, 1):
      raise ValueError(
        f'WinogradConv computes 3x3 convs with stride 1 and padding 1, got kernel_size {self.kernel_size}, '
        f'stride {self.stride}, padding {self.padding}; use Conv instead.'
      )
    kernel, bias = self.kernel_and_bias(tiles.channels)
    kernel, bias = nn.dtypes.promote_dtype(kernel, bias, dtype=self.dtype)
    y = conv_tiles(tiles, kernel)
    return y if bias is None else y + bias


class WinogradDenseBlock(ResidualDenseBlock):
  """`ResidualDenseBlock` whose five 3x3 convs are `WinogradConv`s reading the tiles of x, x1, .., x4, each feature
  transformed once."""

  def hold(self, feature: jax.Array) -> Tiles:
    return input_tiles(feature)

  def dense_conv(self, features: int, name: str, held: list[Any]) -> jax.Array:
    return WinogradConv(features, name=name, **self.conv_fields())(concatenate(held))
