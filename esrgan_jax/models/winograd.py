"""3x3 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray 2016): 2.25x fewer multiplications.

Each 2x2 block of outputs comes from a 4x4 window of the zero-padded input. The windows and the kernel are taken
to a 4x4 transform domain (`B^T d B`, `G g G^T`), where the conv becomes 16 independent [pixels/4, Cin] x [Cin, Cout]
matrix products, and the products are taken back with `A^T m A`. Same results as `lax.conv_general_dilated` with
padding 1 up to float32 rounding (~1e-6 relative). On XLA:CPU (jaxlib 0.10, AVX2) it runs RRDBNet's dense-block
convs faster than XLA's own conv (benchmarks/RESULTS.md); it is a runtime choice of `esrgan_jax.inference.apply`,
never part of a model file.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]], np.float32)  # kernel transform


def _input_transform(x: jax.Array, axis: int) -> list[jax.Array]:
  """B^T along `axis` of the padded input (length 2T + 2): the 4 rows of B^T d for the T windows (stride 2)."""
  windows = (x.shape[axis] - 2) // 2
  d0, d1, d2, d3 = (lax.slice_in_dim(x, i, i + 2 * windows - 1, 2, axis) for i in range(4))
  return [d0 - d2, d1 + d2, d2 - d1, d1 - d3]


def _output_transform(m: jax.Array) -> tuple[jax.Array, jax.Array]:
  """A^T along the leading axis of size 4: the two outputs of each window."""
  return m[0] + m[1] + m[2], m[1] - m[2] - m[3]


def conv3x3(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """x: [N, H, W, Cin], kernel: [3, 3, Cin, Cout] (HWIO) -> [N, H, W, Cout]: stride 1, zero padding 1, no bias.

  Odd H or W get one more row or column of zeros, cropped from the output.
  """
  n, h, w, cin = x.shape
  rows, cols = (h + 1) // 2, (w + 1) // 2
  kernel = jnp.einsum('ai,ijcd,bj->abcd', _G.astype(kernel.dtype), kernel, _G.astype(kernel.dtype))
  padded = jnp.pad(x, ((0, 0), (1, 1 + h % 2), (1, 1 + w % 2), (0, 0)))
  v = jnp.stack([jnp.stack(_input_transform(r, 2)) for r in _input_transform(padded, 1)])  # [4, 4, N, rows, cols, C]
  m = lax.dot_general(
    v.reshape(16, n * rows * cols, cin), kernel.reshape(16, cin, -1), (((2,), (1,)), ((0,), (0,)))
  ).reshape(4, 4, n, rows, cols, -1)
  top, bottom = (_output_transform(r) for r in _output_transform(m))  # each (left, right): [N, rows, cols, Cout]
  y = jnp.stack([jnp.stack(top, axis=-2), jnp.stack(bottom, axis=-2)], axis=2)  # [N, rows, 2, cols, 2, Cout]
  return y.reshape(n, 2 * rows, 2 * cols, -1)[:, :h, :w]
