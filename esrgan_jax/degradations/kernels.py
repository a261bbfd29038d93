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


_BESSEL_NODES = 96  # exact to float32 for |x| < 60 (the kernels need |x| <= pi * 10 * sqrt(2))


def bessel_j1(x: jax.Array) -> jax.Array:
  """Bessel function of the first kind of order 1, from Bessel's integral (1/2pi) int cos(t - x sin t) dt over a
  period, by the rectangle rule (exponentially accurate for periodic integrands; jax.scipy's `bessel_jn` is not
  accurate in float32)."""
  t = jnp.linspace(-math.pi, math.pi, _BESSEL_NODES, endpoint=False)
  return jnp.mean(jnp.cos(t - jnp.asarray(x)[..., None] * jnp.sin(t)), axis=-1)


def circular_lowpass_kernel(cutoff, support=KERNEL_SIZE, size: int = KERNEL_SIZE) -> jax.Array:
  """2-D sinc (ideal circular lowpass) with `cutoff` in radians (pi: Nyquist), normalised over its support."""
  x, y = _grid(size)
  r = jnp.sqrt(x**2 + y**2)
  safe_r = jnp.where(r == 0, 1.0, r)
  kernel = jnp.where(r == 0, cutoff**2 / (4 * math.pi), cutoff * bessel_j1(cutoff * safe_r) / (2 * math.pi * safe_r))
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


def blur(image: jax.Array, kernel: jax.Array) -> jax.Array:
  """Correlates [H, W, C] with a [kh, kw] kernel (odd sizes) per channel, reflect padding (torch's 'reflect').

  Computed by FFT: XLA:CPU runs single-channel convolutions with per-example kernels slowly."""
  kh, kw = kernel.shape
  h, w, _ = image.shape
  padded = jnp.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)), mode='reflect')
  fft_hw = tuple(-(-side // 32) * 32 for side in padded.shape[:2])  # sizes with small prime factors
  spectrum = jnp.fft.rfft2(padded, fft_hw, axes=(0, 1)) * jnp.fft.rfft2(kernel[::-1, ::-1], fft_hw)[..., None]
  full = jnp.fft.irfft2(spectrum, fft_hw, axes=(0, 1))  # circular convolution; rows/cols >= k-1 are exact
  return full[kh - 1 : kh - 1 + h, kw - 1 : kw - 1 + w]
