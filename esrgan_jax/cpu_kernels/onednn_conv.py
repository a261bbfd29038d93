"""bfloat16 convolution by oneDNN inside jitted programs (an XLA FFI custom call), for CPUs with AMX or AVX512-BF16.

XLA:CPU (jaxlib 0.10) computes bf16 convolutions in float32; oneDNN runs them on the CPU's bf16 units (AMX tiles,
AVX512-BF16 dot products) with float32 accumulation, reading NHWC activations and the HWIO kernel as they are.
`onednn_conv` is the function, `OneDNNConv` the drop-in for `esrgan_jax.models.layers.Conv` (same fields, params and
results up to bf16 rounding) and `OneDNNDenseBlock` RRDBNet's dense block on it. Whether a process uses it is decided
once, by `choice()`, which logs one line saying which path and why: the oneDNN path needs the CPU backend, a CPU
with `amx_bf16` or `avx512_bf16` (other AVX-512 CPUs: oneDNN emulates bf16, slower than XLA's float32; AVX2-only
CPUs: it has no bf16 conv) and the library (`esrgan_jax.cpu_kernels.build`; built on first use when g++ and oneDNN
are installed). Otherwise the convs run on XLA's path as before.
"""

import ctypes
import dataclasses
import functools
import logging
import os
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax import runtime
from esrgan_jax.cpu_kernels import build
from esrgan_jax.models import layers
from esrgan_jax.models.rrdbnet import ResidualDenseBlock

TARGET = 'esrgan_jax_onednn_conv_bf16'  # the FFI target name in compiled programs
BF16_UNIT_FLAGS = ('amx_bf16', 'avx512_bf16')  # /proc/cpuinfo flags of the units oneDNN's bf16 convs run on
_DIMENSIONS = ('NHWC', 'HWIO', 'NHWC')


def cpu_flags() -> frozenset[str]:
  """This CPU's instruction-set flags (`runtime.cpu_features`; empty where there are none to read)."""
  return runtime.cpu_features() or frozenset()


@functools.cache
def load_library() -> Path:
  """Builds (if needed), loads and registers the FFI target; returns the library. Raises `build.Unavailable`."""
  path = build.build()
  driver = build.opencl_cpu_driver()
  if driver is not None:  # read when oneDNN makes its CPU engine, at the first call
    known = os.environ.get('OCL_ICD_FILENAMES', '')
    os.environ['OCL_ICD_FILENAMES'] = f'{known}:{driver}' if known else str(driver)
  handler = ctypes.cdll.LoadLibrary(str(path)).OneDnnConvBf16
  jax.ffi.register_ffi_target(TARGET, jax.ffi.pycapsule(handler), platform='cpu')
  return path


@dataclasses.dataclass(frozen=True)
class Choice:
  """Whether bf16 convs run by oneDNN (`onednn`), and why (`reason`)."""

  onednn: bool
  reason: str


def _choose() -> Choice:
  backend = jax.default_backend()
  if backend != 'cpu':
    return Choice(False, f'the backend is {backend}, not cpu')
  flags = cpu_flags()
  units = [flag for flag in BF16_UNIT_FLAGS if flag in flags]
  if not units:
    return Choice(False, 'the CPU has neither AMX nor AVX512-BF16')
  try:
    path = load_library()
  except build.Unavailable as e:
    return Choice(False, str(e).splitlines()[0])
  return Choice(True, f'the CPU has {" and ".join(units)}; {path}')


@functools.cache
def choice() -> Choice:
  """The process's choice (made once, logged in one line); `choice.cache_clear()` makes it again."""
  made = _choose()
  if made.onednn:
    logging.info('bf16 convolutions: oneDNN (%s)', made.reason)
  else:
    logging.warning('bf16 convolutions: XLA, computed in float32 (%s)', made.reason)
  return made


def _xla_conv(x: jax.Array, kernel: jax.Array, bias: jax.Array, stride: int, padding: int) -> jax.Array:
  """What the custom call computes, by XLA: bf16 output of the float32 sum of conv and bias."""
  y = jax.lax.conv_general_dilated(x, kernel, (stride,) * 2, [(padding,) * 2] * 2, dimension_numbers=_DIMENSIONS)
  return (y.astype(jnp.float32) + bias).astype(jnp.bfloat16)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _conv(x: jax.Array, kernel: jax.Array, bias: jax.Array, stride: int, padding: int) -> jax.Array:
  n, h, w, _ = x.shape
  kh, kw, _, features = kernel.shape
  out_shape = (n, (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1, features)
  call = jax.ffi.ffi_call(TARGET, jax.ShapeDtypeStruct(out_shape, jnp.bfloat16))
  return call(x, kernel, bias, stride=stride, padding=padding)


def _conv_fwd(x, kernel, bias, stride, padding):
  return _conv(x, kernel, bias, stride, padding), (x, kernel, bias)


def _conv_bwd(stride, padding, residuals, cotangent):
  """Gradients by XLA's conv (training is not this path's target; they match lax's)."""
  _, vjp = jax.vjp(functools.partial(_xla_conv, stride=stride, padding=padding), *residuals)
  return vjp(cotangent)


_conv.defvjp(_conv_fwd, _conv_bwd)


def onednn_conv(
  x: jax.Array, kernel: jax.Array, bias: jax.Array | None = None, stride: int = 1, padding: int = 1
) -> jax.Array:
  """x: [N, H, W, Cin] bf16, kernel: [KH, KW, Cin, Cout] bf16 (HWIO), bias: [Cout] (added in float32) or None ->
  [N, (H + 2 padding - KH) // stride + 1, (W + ...) // stride + 1, Cout] bf16, zero padding, float32 accumulation.

  Runs on any x86 CPU oneDNN supports (fast on AMX / AVX512-BF16; see `choice()` for when to use it); raises
  `build.Unavailable` when the library cannot be built. Differentiable (the gradients by XLA's conv).
  """
  if x.dtype != jnp.bfloat16 or kernel.dtype != jnp.bfloat16:
    raise TypeError(f'onednn_conv takes bfloat16 x and kernel, got {x.dtype} and {kernel.dtype}: cast them first.')
  if x.ndim != 4 or kernel.ndim != 4 or kernel.shape[2] != x.shape[3]:
    raise ValueError(
      f'onednn_conv takes x [N, H, W, Cin] and kernel [KH, KW, Cin, Cout], got {x.shape}, {kernel.shape}.'
    )
  load_library()
  bias = jnp.zeros(kernel.shape[-1], jnp.float32) if bias is None else bias.astype(jnp.float32)
  return _conv(x, kernel, bias, stride, padding)


class OneDNNConv(layers.Conv):
  """`layers.Conv` whose bfloat16 convs run by `onednn_conv`; same fields and params. Initialisation and other
  compute dtypes run `layers.Conv`'s own code. The bias is added in float32 before the one rounding to bf16."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x: [B, H, W, Cin] -> [B, H', W', features]."""
    if self.is_initializing() or self.dtype != jnp.bfloat16:
      return super().__call__(x)
    kernel, bias = self.kernel_and_bias(x.shape[-1])
    return onednn_conv(x.astype(jnp.bfloat16), kernel.astype(jnp.bfloat16), bias, self.stride, self.padding)


class OneDNNDenseBlock(ResidualDenseBlock):
  """RRDBNet's dense block with its five 3x3 convs `OneDNNConv`s (same params); the entry points choose it for
  bfloat16 inference on CPU when `choice().onednn` (`esrgan_jax.inference.apply.cpu_whole_batch_module`)."""

  def dense_conv(self, features: int, name: str, held: list[Any]) -> jax.Array:
    return OneDNNConv(features, name=name, **self.conv_fields())(jnp.concatenate(held, axis=-1))
