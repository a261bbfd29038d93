"""esrgan_jax.inference.apply.make_apply_fn: a batch split over devices computes what one device computes, and
batches on one CPU device run the scanned Winograd RRDBNet."""

import gc
import weakref

import jax
import jax.numpy as jnp
import numpy as np
from helpers import tiny_generator

from esrgan_jax import runtime
from esrgan_jax.cpu_kernels import onednn_conv
from esrgan_jax.inference import apply
from esrgan_jax.models import SRVGGNetCompact
from esrgan_jax.models.rrdbnet import stack_blocks
from esrgan_jax.models.winograd import WinogradDenseBlock


def test_batches_split_over_the_devices_and_other_sizes_run_on_the_first():
  module, params = tiny_generator(2)
  x = np.random.default_rng(0).random((8, 12, 12, 3), np.float32)
  expected = np.asarray(jax.jit(module.apply)({'params': params}, x))
  one_device = apply.make_apply_fn(module, params, jax.devices()[:1])
  np.testing.assert_allclose(np.asarray(one_device(x)), expected, atol=1e-5)
  two_devices = apply.make_apply_fn(module, params, jax.devices()[:2])
  for batch, devices in ((4, jax.devices()[:2]), (3, jax.devices()[:1])):
    out = two_devices(x[:batch])
    assert out.shape == (batch, 24, 24, 3) and out.sharding.device_set == set(devices)
    np.testing.assert_allclose(np.asarray(out), expected[:batch], atol=1e-5)
  every_device = apply.make_apply_fn(module, params)(x)  # default: all local devices (conftest: 8 CPU devices)
  assert every_device.sharding.device_set == set(jax.local_devices())
  np.testing.assert_allclose(np.asarray(every_device), expected, atol=1e-5)


def test_cpu_whole_batch_module_scans_and_uses_winograd_in_float32_with_xla_convs_only():
  module, _ = tiny_generator(4)
  fast = apply.cpu_whole_batch_module(module, xla_convs=True)
  assert fast == module.clone(scan_blocks=True, dense_block=WinogradDenseBlock) and not module.scan_blocks
  bf16 = apply.cpu_whole_batch_module(module.clone(dtype=jnp.bfloat16), xla_convs=True, onednn=False)
  assert bf16.scan_blocks and bf16.dense_block is module.dense_block
  ynn = apply.cpu_whole_batch_module(module, xla_convs=False)  # a training process, or flags the user chose
  assert ynn.scan_blocks and ynn.dense_block is module.dense_block
  scanned = module.clone(scan_blocks=True)
  assert apply.cpu_whole_batch_module(scanned) is scanned
  compact = SRVGGNetCompact(num_feat=8, num_conv=2)
  assert apply.cpu_whole_batch_module(compact) is compact


def test_tiles_per_call_is_one_where_one_device_runs_winograd_convs_else_one_per_device(monkeypatch):
  monkeypatch.setattr(onednn_conv, 'choice', lambda: onednn_conv.Choice(False, 'test: XLA bf16 convs'))
  module, _ = tiny_generator(4)
  devices = jax.devices()[:4]
  assert apply.tiles_per_call(module, devices, xla_convs=True) == 1
  assert apply.tiles_per_call(module.clone(dtype=jnp.bfloat16), devices, xla_convs=True) == 4
  assert apply.tiles_per_call(module, devices, xla_convs=False) == 4
  assert apply.tiles_per_call(SRVGGNetCompact(num_feat=8, num_conv=2), devices, xla_convs=True) == 4
  assert apply.tiles_per_call(module, xla_convs=False) == jax.local_device_count() == 8  # conftest: 8 CPU devices


def test_one_device_runs_the_cpu_whole_batch_module_on_stacked_params(monkeypatch):
  """Bit for bit what the scanned Winograd net computes (the plain net differs in rounding), within 1e-5 of it."""
  monkeypatch.setattr(runtime, 'runs_xla_convs', lambda: True)  # as after use_fast_cpu_flags chose YNN_OFF_FLAGS
  module, params = tiny_generator(4)
  x = np.random.default_rng(0).random((3, 10, 12, 3), np.float32)
  out = np.asarray(apply.make_apply_fn(module, params, jax.devices()[:2])(x))  # 3 images: not split
  fast = apply.cpu_whole_batch_module(module)
  assert fast.dense_block is WinogradDenseBlock
  np.testing.assert_array_equal(out, apply._forward(fast, stack_blocks(params, module.num_block), x))
  np.testing.assert_allclose(out, apply._forward(module, params, x), atol=1e-5)


def test_the_apply_fn_keeps_no_reference_to_the_callers_params(monkeypatch):
  """Once the caller drops its params, the process holds them once: the stacked copy on the first device (the
  upscale CLI's peak memory, benchmarks/cpu_bf16.py), which split batches replicate."""
  monkeypatch.setattr(runtime, 'runs_xla_convs', lambda: True)  # the scanned Winograd net on one device
  module, params = tiny_generator(4)
  x = np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
  single = apply._forward(apply.cpu_whole_batch_module(module), stack_blocks(params, module.num_block), x[:1])
  split = apply._forward(module, params, x)
  block_leaves = [weakref.ref(leaf) for leaf in jax.tree.leaves(params['body_0'])]
  apply_fn = apply.make_apply_fn(module, params, jax.devices()[:2])
  del params
  gc.collect()
  assert all(ref() is None for ref in block_leaves)
  np.testing.assert_array_equal(np.asarray(apply_fn(x[:1])), single)  # one image: the first device
  np.testing.assert_allclose(np.asarray(apply_fn(x)), split, atol=1e-5)  # split over both, from the replica


def test_quantized_takes_and_gives_levels_rounded_as_written_images_are():
  from esrgan_jax.data.quantize import quantize  # pylint: disable=g-import-not-at-top

  module, params = tiny_generator(2)
  levels = np.random.default_rng(1).integers(0, 256, (8, 6, 6, 3)).astype(np.uint8)
  floats = np.asarray(apply.make_apply_fn(module, params)(levels.astype(np.float32) / 255))
  for devices in (jax.devices()[:1], jax.devices()):
    out = np.asarray(apply.make_apply_fn(module, params, devices, quantized=True)(levels))
    assert out.dtype == np.uint8 and out.shape == (8, 12, 12, 3)
    np.testing.assert_array_equal(out, quantize(np.clip(floats, 0, 1) * 255))
  deep = (levels.astype(np.uint16) * 257)[:1]
  out = np.asarray(apply.make_apply_fn(module, params, jax.devices()[:1], quantized=True)(deep))
  assert out.dtype == np.uint16
  np.testing.assert_allclose(out / 65535, np.clip(floats[:1], 0, 1), atol=1e-4)
