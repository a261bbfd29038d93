"""Tests for esrgan_jax.inference.memory: the activation estimate against XLA's own figure, and tile choice."""

from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from esrgan_jax import runtime
from esrgan_jax.inference import apply, memory
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.models.srresnet import MSRResNet


@pytest.mark.parametrize(
  'module',
  [
    RRDBNet(scale=4, num_feat=64, num_block=1, num_grow_ch=32),  # the widths of every official ESRGAN
    RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4),
    RRDBNet(scale=2, num_feat=16, num_block=1, num_grow_ch=4),
    RRDBNet(scale=1, num_feat=8, num_block=1, num_grow_ch=4),
    MSRResNet(scale=3, num_feat=8, num_block=1),
  ],
)
@pytest.mark.parametrize('whole_batch', [False, True], ids=['split', 'one_device'])
def test_estimate_covers_what_xla_allocates(module, whole_batch):
  """For the module split batches run and the one batches on one CPU device run (scanned Winograd RRDBNet)."""
  module = runtime.for_platform(module)
  module = apply.cpu_whole_batch_module(module, xla_convs=True) if whole_batch else module
  variables = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, 8, 8, 3)))
  image = jax.ShapeDtypeStruct((1, 48, 40, 3), jnp.float32)
  analysis = jax.jit(module.apply).lower(variables, image).compile().memory_analysis()
  xla_bytes = analysis.temp_size_in_bytes + analysis.output_size_in_bytes + analysis.argument_size_in_bytes
  estimate = memory.activation_bytes(module, 48, 40)
  assert xla_bytes * 0.8 <= estimate <= xla_bytes * 2.5


def test_tile_for_budget():
  module = RRDBNet(num_block=23)  # 4 * (3 * 64 + 18) * 16 = 13440 bytes per input pixel
  per_pixel = memory.activation_bytes(module, 1, 1)
  assert memory.tile_for_budget(module, 120, 160, budget=120 * 160 * per_pixel, tile_pad=16) == 0
  tile = memory.tile_for_budget(module, 1080, 1920, budget=2 * memory.GIB, tile_pad=16)
  assert tile % 8 == 0 and (tile + 32) ** 2 * per_pixel <= 2 * memory.GIB < (tile + 40) ** 2 * per_pixel
  assert memory.tile_for_budget(module, 1080, 1920, budget=1, tile_pad=16) == memory.MIN_TILE
  four = memory.tile_for_budget(module, 1080, 1920, budget=2 * memory.GIB, tile_pad=16, batch_tiles=4)
  assert four % 8 == 0 and 4 * (four + 32) ** 2 * per_pixel <= 2 * memory.GIB < 4 * (four + 40) ** 2 * per_pixel
  assert 0 < memory.default_budget() <= memory.DEFAULT_BUDGET_CAP


def test_available_bytes_is_the_kernels_estimate():
  """On Linux psutil reads MemAvailable: the two readings agree up to what other processes did in between."""
  fields = dict(line.split(':') for line in Path('/proc/meminfo').read_text().splitlines())
  available, total = (int(fields[key].split()[0]) * 1024 for key in ('MemAvailable', 'MemTotal'))
  assert abs(memory.available_bytes() - available) < 0.05 * total
