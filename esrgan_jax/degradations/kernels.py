"""Random blur kernels of Real-ESRGAN, generated in JAX from per-example random parameters.

Every kernel is a [KERNEL_SIZE, KERNEL_SIZE] float32 array that sums to 1, centred, with zeros outside its support
(a random odd size from 7 to 21, as Real-ESRGAN pads its smaller kernels to 21). Families, with the quadratic form
q(x) = x^T C^-1 x of the covariance C = R(theta) diag(sigma_x^2, sigma_y^2) R(theta)^T:
- Gaussian: exp(-q / 2); generalized Gaussian: exp(-q^beta / 2); plateau: 1 / (1 + q^beta);
- circular lowpass (2-D sinc): cutoff * J1(cutoff * r) / (2 pi r), with cutoff^2 / (4 pi) at r = 0.
'iso' variants use sigma_y = sigma_x and theta = 0.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from esrgan_jax.degradations.float_split import product_error

KERNEL_SIZE = 21  # Real-ESRGAN's blur_kernel_size: every kernel is padded to this size
KERNEL_FAMILIES = ('iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso')
SUPPORT_SIZES = tuple(range(7, KERNEL_SIZE + 1, 2))  # Real-ESRGAN's kernel_range


@dataclasses.dataclass(frozen=True)
class BlurOptions:
  """The random-kernel settings of one degradation round (defaults: Real-ESRGAN x4plus, first round).

  family_probs: probability of each of KERNEL_FAMILIES (kernel_prob); sigma_range: blur_sigma for sigma_x and
  sigma_y; betag_range / betap_range: shape ranges of the generalized Gaussian / plateau kernels; sinc_prob: the
  probability of a circular lowpass kernel instead.
  """

  family_probs: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
  sigma_range: tuple[float, float] = (0.2, 3.0)
  betag_range: tuple[float, float] = (0.5, 4.0)
  betap_range: tuple[float, float] = (1.0, 2.0)
  sinc_prob: float = 0.1

  def __post_init__(self):
    if len(self.family_probs) != len(KERNEL_FAMILIES) or abs(sum(self.family_probs) - 1) > 1e-6:
      raise ValueError(
        f'family_probs must give {len(KERNEL_FAMILIES)} probabilities (for {KERNEL_FAMILIES}) that '
        f'sum to 1, got {self.family_probs}.'
      )


def _grid(size: int) -> tuple[jax.Array, jax.Array]:
  """Pixel offsets from the centre: x (columns) and y (rows), each [size, size]."""
  axis = jnp.arange(size, dtype=jnp.float32) - (size - 1) / 2
  return jnp.meshgrid(axis, axis)


def _support_mask(support: jax.Array | int, size: int) -> jax.Array:
  """1 inside the centred support x support square, 0 outside."""
  x, y = _grid(size)
  half = (jnp.asarray(support) - 1) / 2
  return ((jnp.abs(x) <= half) & (jnp.abs(y) <= half)).astype(jnp.float32)


def _normalized(kernel: jax.Array, support: jax.Array | int) -> jax.Array:
  kernel = kernel * _support_mask(support, kernel.shape[0])
  return kernel / jnp.sum(kernel)


def quadratic_form(sigma_x, sigma_y, theta, size: int = KERNEL_SIZE) -> jax.Array:
  """x^T C^-1 x on the kernel grid for C = R(theta) diag(sigma_x^2, sigma_y^2) R(theta)^T; [size, size]."""
  x, y = _grid(size)
  cos, sin = jnp.cos(theta), jnp.sin(theta)
  along = cos * x + sin * y  # coordinates in the rotated frame (R^T x)
  across = -sin * x + cos * y
  return (along / sigma_x) ** 2 + (across / sigma_y) ** 2


def gaussian_kernel(sigma_x, sigma_y, theta, beta=1.0, support=KERNEL_SIZE, size: int = KERNEL_SIZE) -> jax.Array:
  """Generalized Gaussian exp(-q^beta / 2), normalised; beta = 1 is the bivariate Gaussian. [size, size]."""
  return _normalized(jnp.exp(-0.5 * quadratic_form(sigma_x, sigma_y, theta, size) ** beta), support)


def plateau_kernel(sigma_x, sigma_y, theta, beta, support=KERNEL_SIZE, size: int = KERNEL_SIZE) -> jax.Array:
  """Plateau 1 / (1 + q^beta), normalised. [size, size]."""
  return _normalized(1.0 / (1.0 + quadratic_form(sigma_x, sigma_y, theta, size) ** beta), support)


_MILLER_START = 96  # the backward recurrence's first order: well above the kernels' |x| <= pi * 10 * sqrt(2)


def bessel_j0_j1(x: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Bessel functions J0 and J1 of the first kind of x >= 0 (float32, up to ~60), by Miller's backward recurrence
  J_(n-1) = (2n / x) J_n - J_(n+1) from order 96, normalised by J0 + 2 (J2 + J4 + ...) = 1: stable, unbiased, about
  2e-7 absolute (jax.scipy's `bessel_jn` is not accurate in float32)."""
  given = jnp.asarray(x, jnp.float32)
  x = jnp.where(given == 0, 1.0, given)

  def step(carry, n):
    upper, current, j1, norm = carry  # J_(n+1), J_n, J1 and the normalising sum so far, all scaled alike
    lower = (2 * n / x) * current - upper
    j1 = jnp.where(n == 2, lower, j1)
    norm = norm + jnp.where(n % 2 == 1, jnp.where(n == 1, 1.0, 2.0) * lower, 0.0)
    rescale = jnp.where(jnp.abs(lower) > 1e10, 1e-10, 1.0)  # keeps float32 in range for small x
    return (current * rescale, lower * rescale, j1 * rescale, norm * rescale), None

  start = (jnp.zeros_like(x), jnp.ones_like(x), jnp.zeros_like(x), jnp.zeros_like(x))
  orders = jnp.arange(_MILLER_START, 0, -1, dtype=jnp.float32)
  (_, j0, j1, norm), _ = jax.lax.scan(step, start, orders)
  return jnp.where(given == 0, 1.0, j0 / norm), jnp.where(given == 0, 0.0, j1 / norm)


def bessel_j1(x: jax.Array) -> jax.Array:
  """Bessel function J1 of x >= 0 (see `bessel_j0_j1`)."""
  return bessel_j0_j1(x)[1]


def circular_lowpass_kernel(cutoff, support=KERNEL_SIZE, size: int = KERNEL_SIZE) -> jax.Array:
  """2-D sinc (ideal circular lowpass) with `cutoff` in radians (pi: Nyquist), normalised over its support.

  As Real-ESRGAN's float64 kernel within ~3e-7: the argument cutoff * r is carried as a float32 sum x + dx (Dekker's
  exact product with r's float64 value) and J1(x + dx) = J1(x) + dx (J0(x) - J1(x) / x)."""
  axis = np.arange(size) - (size - 1) / 2
  r64 = np.hypot(*np.meshgrid(axis, axis))
  safe64 = np.where(r64 == 0, 1.0, r64)
  r_high = safe64.astype(np.float32)
  r_low = (safe64 - r_high).astype(np.float32)
  cutoff = jnp.asarray(cutoff, jnp.float32)
  x = cutoff * r_high
  dx = product_error(cutoff, r_high, x) + cutoff * r_low
  j0, j1 = bessel_j0_j1(x)
  j1 = j1 + dx * (j0 - j1 / x)
  kernel = jnp.where(r64 == 0, cutoff**2 / (4 * math.pi), cutoff * j1 / (2 * math.pi * safe64).astype(np.float32))
  return _normalized(kernel, support)


def pulse_kernel(size: int = KERNEL_SIZE) -> jax.Array:
  """The identity filter: 1 at the centre."""
  return _support_mask(1, size)


# The random draws come as uniforms in [0, 1) (one threefry call per example for all of them: each call of
# jax.random costs seconds of XLA compilation on CPU).
def scaled(u: jax.Array, low, high) -> jax.Array:
  """A uniform u in [0, 1) mapped to [low, high)."""
  return low + u * (high - low)


def categorical(u: jax.Array, probs: tuple[float, ...]) -> jax.Array:
  """Index i with probability probs[i], from a uniform u (int32)."""
  return jnp.sum(u >= jnp.cumsum(jnp.array(probs[:-1]))).astype(jnp.int32)


def _random_beta(u: jax.Array, beta_range: tuple[float, float]) -> jax.Array:
  """From u [2]: half the time uniform in [low, 1], else in [1, high] (Real-ESRGAN's rule for ranges around 1)."""
  return jnp.where(u[0] < 0.5, scaled(u[1], beta_range[0], 1.0), scaled(u[1], 1.0, beta_range[1]))


def random_support(u: jax.Array) -> jax.Array:
  """A random odd kernel size from SUPPORT_SIZES, from a uniform u (int32)."""
  return jnp.array(SUPPORT_SIZES)[categorical(u, (1 / len(SUPPORT_SIZES),) * len(SUPPORT_SIZES))]


MIXED_KERNEL_DRAWS = 6


def random_mixed_kernel(u: jax.Array, options: BlurOptions, support) -> jax.Array:
  """A kernel of a random family (family_probs), with random sigmas, rotation and beta, from uniforms u
  [MIXED_KERNEL_DRAWS]. [KERNEL_SIZE, KERNEL_SIZE]."""
  family = categorical(u[0], options.family_probs)
  sigma_x = scaled(u[1], *options.sigma_range)
  anisotropic = family % 2 == 1  # KERNEL_FAMILIES alternates iso / aniso
  sigma_y = jnp.where(anisotropic, scaled(u[2], *options.sigma_range), sigma_x)
  theta = jnp.where(anisotropic, scaled(u[3], -math.pi, math.pi), 0.0)
  plateau = family >= 4
  beta_range = jnp.where(plateau, jnp.array(options.betap_range), jnp.array(options.betag_range))
  beta = jnp.where(family < 2, 1.0, _random_beta(u[4:6], beta_range))
  return jnp.where(
    plateau,
    plateau_kernel(sigma_x, sigma_y, theta, beta, support),
    gaussian_kernel(sigma_x, sigma_y, theta, beta, support),
  )


BLUR_KERNEL_DRAWS = 3 + MIXED_KERNEL_DRAWS


def random_blur_kernel(u: jax.Array, options: BlurOptions) -> jax.Array:
  """One round's blur kernel from uniforms u [BLUR_KERNEL_DRAWS]: a circular lowpass with probability sinc_prob
  (cutoff in [pi/3, pi] for supports below 13, else [pi/5, pi]), else a mixed kernel; on a random support.
  [KERNEL_SIZE, KERNEL_SIZE]."""
  support = random_support(u[0])
  cutoff = scaled(u[2], jnp.where(support < 13, math.pi / 3, math.pi / 5), math.pi)
  mixed = random_mixed_kernel(u[3:], options, support)
  return jnp.where(u[1] < options.sinc_prob, circular_lowpass_kernel(cutoff, support), mixed)


FINAL_SINC_DRAWS = 3


def random_final_sinc_kernel(u: jax.Array, prob: float) -> jax.Array:
  """From uniforms u [FINAL_SINC_DRAWS]: with probability `prob` a circular lowpass (cutoff in [pi/3, pi], random
  support), else the pulse."""
  kernel = circular_lowpass_kernel(scaled(u[2], math.pi / 3, math.pi), random_support(u[0]))
  return jnp.where(u[1] < prob, kernel, pulse_kernel())


def _reflected(length: int, pad: int, valid: jax.Array | int) -> jax.Array:
  """Indices -pad .. length + pad - 1 reflected into [0, valid) about its ends (torch's 'reflect'), clamped where
  the pad exceeds the valid length."""
  index = jnp.abs(jnp.arange(-pad, length + pad))
  index = jnp.where(index > valid - 1, 2 * (valid - 1) - index, index)
  return jnp.clip(index, 0, valid - 1)


def blur(image: jax.Array, kernel: jax.Array, valid_hw: jax.Array | None = None) -> jax.Array:
  """Correlates [H, W, C] with a [kh, kw] kernel (odd sizes) per channel, reflect padding (torch's 'reflect').

  valid_hw: when the image is the top-left [h, w] of a larger canvas, the padding reflects about the valid region's
  edges, so the valid region comes out as the [h, w] image blurred alone. Computed by FFT: XLA:CPU runs
  single-channel convolutions with per-example kernels slowly."""
  kh, kw = kernel.shape
  h, w, _ = image.shape
  valid_h, valid_w = (h, w) if valid_hw is None else (valid_hw[0], valid_hw[1])
  padded = image[_reflected(h, kh // 2, valid_h)][:, _reflected(w, kw // 2, valid_w)]
  fft_hw = tuple(-(-side // 32) * 32 for side in padded.shape[:2])  # sizes with small prime factors
  spectrum = jnp.fft.rfft2(padded, fft_hw, axes=(0, 1)) * jnp.fft.rfft2(kernel[::-1, ::-1], fft_hw)[..., None]
  full = jnp.fft.irfft2(spectrum, fft_hw, axes=(0, 1))  # circular convolution; rows/cols >= k-1 are exact
  return full[kh - 1 : kh - 1 + h, kw - 1 : kw - 1 + w]
