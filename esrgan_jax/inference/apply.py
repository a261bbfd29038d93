"""Applying a generator to images: one jitted forward per (module, input shape), and whole-image upscaling with
gray, alpha and `outscale` handling. Used by `upscale`, `evaluate`, training validation and the ablation.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from esrgan_jax import runtime
from esrgan_jax.cpu_kernels import onednn_conv
from esrgan_jax.data.imresize import imresize
from esrgan_jax.inference.tiling import ApplyFn, upscale_image
from esrgan_jax.models.rrdbnet import RRDBNet, stack_blocks, unstack_blocks
from esrgan_jax.models.winograd import WinogradDenseBlock

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # BT.601 RGB -> gray, as cv2.COLOR_RGB2GRAY


def _apply(module: nn.Module, params: Any, x: jax.Array, quantized: bool = False) -> jax.Array:
  """float32 x in [0, 1] -> float32 output. Integer x (uint8/uint16 levels) becomes level / top on the device first,
  by a table numpy computed (XLA:CPU's division can differ from numpy's in the last bit, so the image path's
  `pixels / 255` would not be matched); with `quantized` the clipped output is rounded back to those levels as
  `data.quantize` rounds (half away from zero), so only integers cross between host and device."""
  levels = int(jnp.iinfo(x.dtype).max) if jnp.issubdtype(x.dtype, jnp.integer) else None
  if levels is not None:
    x = jnp.asarray(np.arange(levels + 1, dtype=np.float32) / np.float32(levels))[x]
  out = module.apply({'params': params}, x).astype(jnp.float32)
  if not quantized:
    return out
  if levels is None:
    raise ValueError('quantized output needs uint8 or uint16 input levels.')
  out = jnp.clip(out, 0.0, 1.0) * levels
  whole = jnp.floor(out)
  rounded = whole + (out - whole >= 0.5)  # floor(out + 0.5) without float32 rounding the sum up
  return rounded.astype(np.uint8 if levels == 255 else np.uint16)


_forward = jax.jit(_apply, static_argnums=(0, 3))


@functools.cache
def _split_forward(compiler_options: tuple[tuple[str, str], ...]) -> Callable[..., jax.Array]:
  """`_forward` for batches split over devices, compiled with `compiler_options` (`_forward` itself for none)."""
  if not compiler_options:
    return _forward
  return jax.jit(_apply, static_argnums=(0, 3), compiler_options=dict(compiler_options))


def cpu_whole_batch_module(module: nn.Module, xla_convs: bool | None = None, onednn: bool | None = None) -> nn.Module:
  """The module a batch computed on one CPU device runs: for an RRDBNet, its blocks scanned (one RRDB compiled, not
  `num_block`: a shorter compile) and, where that was measured faster, other dense blocks with the same params:
  - in bfloat16, `OneDNNDenseBlock`s (`esrgan_jax.cpu_kernels.onednn_conv`: the convs on the CPU's bf16 units) where
    `onednn` (default `onednn_conv.choice().onednn`, which logs the choice once);
  - in float32, `WinogradDenseBlock`s (`esrgan_jax.models.winograd`) in a process running XLA's own convs
    (`xla_convs`, default `runtime.runs_xla_convs()`: whole-image inference without AVX-512; with YNNPACK's convs, as
    in training processes, Winograd's small matrix products are slower).
  Its params are `stack_blocks(params)`. Other modules, and already scanned RRDBNets, are returned unchanged. Batches
  split over devices keep the plain module (they compile with YNNPACK's fusions,
  `runtime.batch_split_compiler_options`).
  """
  if not isinstance(module, RRDBNet) or module.scan_blocks:
    return module
  if module.dtype == jnp.bfloat16:
    onednn = onednn_conv.choice().onednn if onednn is None else onednn
    return module.clone(scan_blocks=True, dense_block=onednn_conv.OneDNNDenseBlock if onednn else module.dense_block)
  xla_convs = runtime.runs_xla_convs() if xla_convs is None else xla_convs
  if module.dtype in (None, jnp.float32) and xla_convs:
    return module.clone(scan_blocks=True, dense_block=WinogradDenseBlock)
  return module.clone(scan_blocks=True)


def runs_on_one_device(module: nn.Module) -> bool:
  """Whether a CPU batch of `module` (from `cpu_whole_batch_module`) is best run whole on one device rather than split
  over the cores: its Winograd convs beat split windows (benchmarks/RESULTS.md), and oneDNN's convs spread over all
  cores themselves."""
  return getattr(module, 'dense_block', None) in (WinogradDenseBlock, onednn_conv.OneDNNDenseBlock)


def tiles_per_call(
  module: nn.Module, devices: Sequence[jax.Device] | None = None, xla_convs: bool | None = None
) -> int:
  """The default windows per call of a tiler over `make_apply_fn(module, params, devices)`: 1 where a batch on one
  CPU device is best run whole (`runs_on_one_device(cpu_whole_batch_module(module, xla_convs))`), else one per
  device (default: all local devices)."""
  devices = list(jax.local_devices() if devices is None else devices)
  if devices[0].platform == 'cpu' and runs_on_one_device(cpu_whole_batch_module(module, xla_convs)):
    return 1
  return len(devices)


def make_apply_fn(
  module: nn.Module, params: Any, devices: Sequence[jax.Device] | None = None, *, quantized: bool = False
) -> ApplyFn:
  """[N, h, w, 3] float32 -> [N, h*scale, w*scale, 3] float32. `params` go to the first device at once, in the
  layout its batches need (blocks stacked for `cpu_whole_batch_module`); the function keeps only that copy (on CPU in
  host memory: a caller that drops its own holds the params once) and replicates it for the first split batch.
  With `quantized`: [N, h, w, 3] uint8 (or uint16) levels -> the clipped output in the same levels, converted on the
  devices (video frames: only integers move between host and device).

  A batch whose size N is a multiple of the number of `devices` (default: all local devices of JAX's default
  backend) is split over them, each device computing N / len(devices) images; other batches (and on CPU all bf16
  batches whose convs run by oneDNN) run on the first device, on CPU as `cpu_whole_batch_module(module)`. On CPU
  with one device per core (`esrgan_jax.runtime.use_cpu_device_per_core`) that runs each part of a split batch on its
  own core, compiled with `runtime.batch_split_compiler_options()`. Equal module configs and input shapes compile
  once per process; the first call of a shape compiles before it runs and returns the compiler's freed memory to the
  OS in between (`runtime.release_free_memory`), so the program's buffers do not come on top of it.
  """
  devices = list(jax.local_devices() if devices is None else devices)
  mesh = jax.sharding.Mesh(np.array(devices), ('batch',))
  split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('batch'))
  on_cpu = devices[0].platform == 'cpu'
  split_forward = _split_forward(tuple(sorted((runtime.batch_split_compiler_options() if on_cpu else {}).items())))
  single_module = cpu_whole_batch_module(module) if on_cpu else module

  stacked = single_module is not module  # cpu_whole_batch_module scanned the blocks
  on_first = jax.device_put(stack_blocks(params, module.num_block) if stacked else params, devices[0])

  @functools.cache
  def replicated() -> Any:
    source = jax.jit(unstack_blocks)(on_first) if stacked else on_first  # on the first device, not kept
    return jax.device_put(source, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))

  splits = len(devices) > 1 and getattr(single_module, 'dense_block', None) is not onednn_conv.OneDNNDenseBlock

  compiled = set()

  def apply_fn(x: np.ndarray) -> jax.Array:
    if splits and x.shape[0] % len(devices) == 0:
      forward, args = split_forward, (module, replicated(), jax.device_put(x, split), quantized)
    else:
      forward, args = _forward, (single_module, on_first, jax.device_put(x, devices[0]), quantized)
    if (forward, x.shape, x.dtype) not in compiled:  # compile apart (the call below reuses the program), and give
      forward.lower(*args).compile()  # the compiler's freed memory back before the program's buffers are allocated
      runtime.release_free_memory()
      compiled.add((forward, x.shape, x.dtype))
    return forward(*args)

  return apply_fn


def upscale_array(
  apply_fn: ApplyFn,
  image: np.ndarray,
  *,
  scale: int,
  outscale: float | None = None,
  alpha_upsampler: str = 'bicubic',
  **tiling: Any,
) -> np.ndarray:
  """Upscales HW or HWC (C = 1, 2 gray+alpha, 3, 4 RGBA) float in [0, 1]; returns the same layout in [0, 1].

  The output is `scale` times larger, or `outscale` times (MATLAB bicubic resize of the clipped network output to
  int(size * outscale)). `tiling` goes to `esrgan_jax.inference.tiling.upscale_image` (tile, tile_pad, batch_tiles,
  progress).
  """
  if alpha_upsampler not in ('bicubic', 'network'):
    raise ValueError(f"alpha_upsampler must be 'bicubic' or 'network', got {alpha_upsampler!r}.")
  planes = image[..., None] if image.ndim == 2 else image
  if planes.ndim != 3 or planes.shape[-1] not in (1, 2, 3, 4):
    raise ValueError(f'expected an HW or HWC image with 1-4 channels, got shape {image.shape}.')
  has_alpha = planes.shape[-1] in (2, 4)
  color, alpha = (planes[..., :-1], planes[..., -1]) if has_alpha else (planes, None)
  network = lambda x: upscale_image(
    apply_fn, np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x, scale=scale, **tiling
  )
  out = network(color)
  if color.shape[-1] == 1:
    out = out @ _LUMA[:, None]
  if has_alpha:
    alpha = network(alpha[..., None]) @ _LUMA if alpha_upsampler == 'network' else imresize(alpha, scale)
    out = np.concatenate([out, alpha[..., None]], axis=-1)
  out = np.clip(out, 0.0, 1.0, out=out if out.flags.writeable else None)  # in place: the output can be GBs
  if outscale is not None and outscale != scale:
    size = tuple(int(n * outscale) for n in image.shape[:2])
    if min(size) < 1:
      raise ValueError(f'outscale {outscale} makes a {image.shape[0]}x{image.shape[1]} image empty.')
    out = np.clip(imresize(out, output_shape=size), 0.0, 1.0)
  out = out.astype(np.float32, copy=False)
  return out[..., 0] if image.ndim == 2 else out
