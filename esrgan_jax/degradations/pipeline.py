"""Real-ESRGAN's second-order degradation: GT patches -> LR inputs, batched and jit-able, on device.

Per example (Real-ESRGAN's order): USM-sharpen the GT; round 1: blur, random resize (up / down / keep; area,
bilinear or bicubic), Gaussian or Poisson noise, JPEG; round 2: blur (with probability second_blur_prob), random
resize relative to the LR size, noise; then, in random order, [resize to the LR size + final sinc filter] and JPEG;
finally rounding to 8 bits. Resizes sample as torch's `F.interpolate` (round 1 by scale factor, the others by size)
and JPEG is BasicSR's DiffJPEG (`jpeg_impl`), so each step computes what BasicSR's `RealESRGANModel.feed_data` does
for the same draws. `options.draws` 'per_batch' (default, as BasicSR) takes the choices BasicSR draws once per batch
(BATCH_DRAWS: the resize kind, factor and mode of each resize, the noise types, the second-blur and final-order coin
flips) from the batch's key `batch_key(key, indices)`, the same for every example and device; the per-image choices
(kernels, noise strength and gray coin, JPEG qualities) and all of 'per_example' (more variety per batch) come from
`jax.random.fold_in(key, index)`. So the same (key, example index, batch) always gives the same LR image, whatever
its place in the batch: resuming a run reproduces it bit for bit. Resized intermediates live in fixed-size canvases
(`resize`), so the whole pipeline has static shapes. Not reproduced: Real-ESRGAN's 400-pixel crop before degrading
and its training-pair queue that shuffles examples across batches.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from esrgan_jax.degradations.diffjpeg import diffjpeg
from esrgan_jax.degradations.float_split import product_error
from esrgan_jax.degradations.jpeg import jpeg
from esrgan_jax.degradations.kernels import (
  BLUR_KERNEL_DRAWS,
  FINAL_SINC_DRAWS,
  BlurOptions,
  blur,
  categorical,
  pulse_kernel,
  random_blur_kernel,
  random_final_sinc_kernel,
  scaled,
)
from esrgan_jax.degradations.levels import eight_bit_levels
from esrgan_jax.degradations.noise import NOISE_DRAWS, NOISE_TYPE_DRAW, NoiseOptions, random_noise
from esrgan_jax.degradations.resize import RESIZE_METHODS, fill_beyond, resize
from esrgan_jax.degradations.usm import usm_sharpen

JPEG_IMPLS = ('diffjpeg', 'libjpeg')
DRAWS = ('per_batch', 'per_example')


@dataclasses.dataclass(frozen=True)
class DegradationOptions:
  """All settings of the pipeline; defaults are Real-ESRGAN's train_realesrgan_x4plus.yml.

  resize_probs*: probabilities of (up, down, keep); resize_range*: factor range (down from the low end to 1, up
  from 1 to the high end; round 2 relative to the LR size); jpeg_range*: quality range; jpeg_impl: 'diffjpeg'
  (BasicSR's DiffJPEG, what Real-ESRGAN trains with) or 'libjpeg' (`jpeg.jpeg`: a real codec's tables, chroma
  filtering, edge padding and 8-bit rounding); draws: 'per_batch' (BasicSR's BATCH_DRAWS once per batch) or
  'per_example' (every choice per example: more variety per batch).
  """

  scale: int = 4
  sharpen_gt: bool = True
  blur1: BlurOptions = BlurOptions()
  resize_probs1: tuple[float, float, float] = (0.2, 0.7, 0.1)
  resize_range1: tuple[float, float] = (0.15, 1.5)
  noise1: NoiseOptions = NoiseOptions()
  jpeg_range1: tuple[float, float] = (30.0, 95.0)
  second_blur_prob: float = 0.8
  blur2: BlurOptions = BlurOptions(sigma_range=(0.2, 1.5))
  resize_probs2: tuple[float, float, float] = (0.3, 0.4, 0.3)
  resize_range2: tuple[float, float] = (0.3, 1.2)
  noise2: NoiseOptions = NoiseOptions(sigma_range=(1.0, 25.0), poisson_scale_range=(0.05, 2.5))
  jpeg_range2: tuple[float, float] = (30.0, 95.0)
  final_sinc_prob: float = 0.8
  jpeg_impl: str = 'diffjpeg'
  draws: str = 'per_batch'

  def __post_init__(self):
    if self.jpeg_impl not in JPEG_IMPLS:
      raise ValueError(f'jpeg_impl must be one of {JPEG_IMPLS}, got {self.jpeg_impl!r}.')
    if self.draws not in DRAWS:
      raise ValueError(f'draws must be one of {DRAWS}, got {self.draws!r}.')


# An example's uniform draws, slot by slot in pipeline order: (name, size, which of them BasicSR 1.4.2's
# `RealESRGANModel.feed_data` draws once per batch). Per image there: the blur and sinc kernels (from the dataset),
# the noise strength and gray coin and the JPEG quality (batch-sized tensors).
_SLOTS = (
  ('blur1', BLUR_KERNEL_DRAWS, ()),
  ('resize1', 2, (0, 1)),  # kind (up / down / keep), factor
  ('mode1', 1, (0,)),
  ('noise1', NOISE_DRAWS, (NOISE_TYPE_DRAW,)),
  ('quality1', 1, ()),
  ('blur2', BLUR_KERNEL_DRAWS, ()),
  ('second_blur', 1, (0,)),
  ('resize2', 2, (0, 1)),
  ('mode2', 1, (0,)),
  ('noise2', NOISE_DRAWS, (NOISE_TYPE_DRAW,)),
  ('sinc', FINAL_SINC_DRAWS, ()),
  ('quality2', 1, ()),
  ('final_mode', 1, (0,)),
  ('jpeg_last', 1, (0,)),
)
_OFFSETS = dict(zip([name for name, _, _ in _SLOTS], np.cumsum([0] + [size for _, size, _ in _SLOTS])))
BATCH_DRAWS = np.array([i in shared for _, size, shared in _SLOTS for i in range(size)])  # bool [number of draws]


def random_draws(key: jax.Array, batch_key: jax.Array | None = None) -> dict[str, jax.Array]:
  """An example's uniforms in [0, 1) by slot name (_SLOTS), from `key`; where `batch_key` is given, the BATCH_DRAWS
  ones come from it instead (the same for every example of the batch)."""
  u = jax.random.uniform(jax.random.split(key, 3)[0], BATCH_DRAWS.shape)
  if batch_key is not None:
    u = jnp.where(BATCH_DRAWS, jax.random.uniform(jax.random.split(batch_key, 3)[0], BATCH_DRAWS.shape), u)
  return {name: u[_OFFSETS[name] : _OFFSETS[name] + size] for name, size, _ in _SLOTS}


def _random_factor(u: jax.Array, probs: tuple[float, float, float], factor_range: tuple[float, float]) -> jax.Array:
  """From uniforms u [2]: up (U(1, high)), down (U(low, 1)) or keep (1), with probabilities `probs`."""
  kind = categorical(u[0], probs)
  return jnp.select(
    [kind == 0, kind == 1], [scaled(u[1], 1.0, factor_range[1]), scaled(u[1], factor_range[0], 1.0)], 1.0
  )


def scaled_size(hw: tuple[int, int], factor: jax.Array) -> jax.Array:
  """floor(side * factor) per side for a float32 factor, exactly (as torch and BasicSR compute it in float64), at
  least 1; int32 [2]. Exact for sides below 4096: the product is carried as its float32 value plus the exact
  remainder, whose sign corrects a floor that rounding pushed up to the next integer."""
  sides = jnp.array(hw, jnp.float32)
  factor = jnp.asarray(factor, jnp.float32)
  product = sides * factor
  floor = jnp.floor(product)
  remainder = (product - floor) + product_error(sides, factor, product)  # side * factor - floor
  return jnp.maximum(jnp.where(remainder < 0, floor - 1, floor), 1).astype(jnp.int32)


def _canvas(hw: tuple[int, int], high: float) -> tuple[int, int]:
  return tuple(max(side, math.ceil(side * high)) for side in hw)


def _pad_to(hw: tuple[int, int], canvas: jax.Array) -> tuple[tuple[int, int], ...]:
  """jnp.pad widths that grow an [*hw, C] image to the canvas's height and width."""
  return ((0, canvas.shape[0] - hw[0]), (0, canvas.shape[1] - hw[1]), (0, 0))


def _compress(image: jax.Array, quality: jax.Array, valid_hw: jax.Array, impl: str) -> jax.Array:
  """JPEG of the valid [h, w] region of a canvas [H, W, 3], the canvas filled beyond it again."""
  if impl == 'diffjpeg':
    return fill_beyond(diffjpeg(image, quality, valid_hw), valid_hw)
  return fill_beyond(jpeg(image, quality), valid_hw)  # the canvas repeats its edges, as libjpeg pads


def _random_method(u: jax.Array) -> jax.Array:
  return categorical(u, (1 / len(RESIZE_METHODS),) * len(RESIZE_METHODS))


def degrade(
  key: jax.Array, gt: jax.Array, options: DegradationOptions = DegradationOptions(), batch_key: jax.Array | None = None
) -> jax.Array:
  """One GT image [H, W, 3] in [0, 1] (H, W multiples of scale, >= 26) -> LR [H / scale, W / scale, 3] on the
  8-bit grid. Sharpens the GT first when options.sharpen_gt. The BATCH_DRAWS choices come from `batch_key` where
  given (`synthesize_batch` with options.draws 'per_batch'), else from `key` as all the others.

  Random bits come from threefry's non-partitionable variant (a trace-time scope, not a global setting): its
  pixel-sized draws compile ~5x faster on XLA:CPU, and each example's draws are computed per example anyway."""
  with jax.threefry_partitionable(False):
    return _degrade(key, gt, options, batch_key)


def _degrade(key: jax.Array, gt: jax.Array, options: DegradationOptions, batch_key: jax.Array | None) -> jax.Array:
  h, w, _ = gt.shape
  if h % options.scale or w % options.scale or min(h, w) < 26:
    raise ValueError(
      f'degrade needs GT sides that are multiples of scale {options.scale} and at least 26 pixels, '
      f'got {h}x{w}: crop GT patches to such a size (gt_size).'
    )
  _, noise1_key, noise2_key = jax.random.split(key, 3)
  draws = random_draws(key, batch_key)
  image = usm_sharpen(gt) if options.sharpen_gt else gt
  full = jnp.array([h, w], jnp.int32)

  # Round 1: blur, resize into a canvas that fits the largest factor, noise, JPEG.
  image = blur(image, random_blur_kernel(draws['blur1'], options.blur1))
  factor1 = _random_factor(draws['resize1'], options.resize_probs1, options.resize_range1)
  size1 = scaled_size((h, w), factor1)  # F.interpolate(scale_factor=factor1)
  canvas1 = _canvas((h, w), options.resize_range1[1])
  image = resize(image, full, size1, canvas1, _random_method(draws['mode1'][0]), scale_factor=factor1)
  image = random_noise(noise1_key, draws['noise1'], image, options.noise1)
  image = _compress(image, scaled(draws['quality1'][0], *options.jpeg_range1), size1, options.jpeg_impl)

  # Round 2: the resize is relative to the LR size.
  kernel2 = random_blur_kernel(draws['blur2'], options.blur2)
  image = blur(image, jnp.where(draws['second_blur'][0] < options.second_blur_prob, kernel2, pulse_kernel()), size1)
  lr_hw = (h // options.scale, w // options.scale)
  size2 = scaled_size(lr_hw, _random_factor(draws['resize2'], options.resize_probs2, options.resize_range2))
  image = resize(image, size1, size2, _canvas(lr_hw, options.resize_range2[1]), _random_method(draws['mode2'][0]))
  image = random_noise(noise2_key, draws['noise2'], image, options.noise2)

  # Final: [resize to LR + sinc] and JPEG, in random order.
  sinc = random_final_sinc_kernel(draws['sinc'], options.final_sinc_prob)
  quality = scaled(draws['quality2'][0], *options.jpeg_range2)
  method = _random_method(draws['final_mode'][0])
  lr = jnp.array(lr_hw, jnp.int32)
  to_lr = lambda x: blur(resize(x, size2, lr, lr_hw, method), sinc)
  jpeg_last = draws['jpeg_last'][0] < 0.5
  # One JPEG call for both orders: the LR image, placed in the round-2 canvas, compresses like the LR image alone.
  before_jpeg = jnp.where(
    jpeg_last, fill_beyond(jnp.pad(jnp.clip(to_lr(image), 0, 1), _pad_to(lr_hw, image)), lr), image
  )
  compressed = _compress(before_jpeg, quality, jnp.where(jpeg_last, lr, size2), options.jpeg_impl)
  image = jnp.where(jpeg_last, compressed[: lr_hw[0], : lr_hw[1]], to_lr(compressed))
  return eight_bit_levels(image) / 255


def example_keys(key: jax.Array, indices: jax.Array) -> jax.Array:
  """One key per example: fold_in(key, index); [B] keys for int [B] indices."""
  return jax.vmap(jax.random.fold_in, (None, 0))(key, indices)


def batch_key(key: jax.Array, indices: jax.Array) -> jax.Array:
  """The key of a batch's shared draws: the example key of its smallest global index (int [B]), so the same on
  every device and for any order of the batch."""
  return jax.random.fold_in(key, jnp.min(indices))


def synthesize_batch(
  key: jax.Array,
  indices: jax.Array,
  gt: jax.Array,
  options: DegradationOptions = DegradationOptions(),
  shared_key: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
  """GT batch [B, H, W, 3] in [0, 1] and the examples' global indices [B] -> (LR [B, H/s, W/s, 3], the training
  target [B, H, W, 3]: the USM-sharpened GT when options.sharpen_gt, else the GT). Jit with options static.
  With options.draws 'per_batch' the BATCH_DRAWS choices are shared: pass the whole (global) batch, or one device's
  slice with `shared_key`, the global batch's `batch_key`."""
  shared = None
  if options.draws == 'per_batch':
    shared = batch_key(key, indices) if shared_key is None else shared_key
  lq = jax.vmap(degrade, (0, 0, None, None))(example_keys(key, indices), gt, options, shared)
  target = jax.vmap(usm_sharpen)(gt) if options.sharpen_gt else gt
  return lq, target
