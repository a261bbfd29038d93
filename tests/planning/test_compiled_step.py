"""The data-parallelism check on collectives and the roofline, on hand-made collectives (no compilation)."""

import jax
import jax.numpy as jnp
import pytest

from esrgan_jax.planning import compiled_step, hlo_collectives, hlo_traffic
from esrgan_jax.planning.chips import CHIPS
from esrgan_jax.planning.hlo_collectives import Collective

GRADS = 4 * 2**20  # bytes of float32 gradients
GRADIENT_ALL_REDUCE = Collective('all-reduce', (('f32', (2**20,)),), 1, 'grad')
BN_MOMENTS = Collective('all-reduce', (('f32', (64,)), ('f32', (64,))), 1, 'bn')


def test_gradient_all_reduce_and_small_extras_pass():
  assert compiled_step.collective_problems([GRADIENT_ALL_REDUCE, BN_MOMENTS], GRADS, 64, 4) == []


def test_gathered_activations_are_named():
  gathered = Collective('all-gather', (('bf16', (64, 32, 32, 64)),), 1, 'jit(step)/conv')
  problems = compiled_step.collective_problems([GRADIENT_ALL_REDUCE, gathered], GRADS, 64, 4)
  assert any('all-gather of a batch-sized array' in p and 'jit(step)/conv' in p for p in problems)
  assert any('more than 1.25 x the gradients' in p for p in problems)


def test_unreduced_gradients_fail():
  problems = compiled_step.collective_problems([BN_MOMENTS], GRADS, 64, 4)
  assert problems and 'not reduced' in problems[0]


def test_bf16_compute_may_reduce_gradients_in_bf16():
  bf16_grads = Collective('all-reduce', (('bf16', (2**20,)),), 1, 'grad')
  assert compiled_step.collective_problems([bf16_grads], GRADS, 64, 4, half=True) == []
  assert 'not reduced' in compiled_step.collective_problems([bf16_grads], GRADS, 64, 4)[0]


def test_one_chip_needs_no_collective():
  assert compiled_step.collective_problems([], GRADS, 16, 1) == []


def test_roofline_is_the_slowest_of_compute_hbm_and_ici():
  chip = CHIPS['v5e']
  seconds = compiled_step.estimate(197e12, 819e9 / 2, [GRADIENT_ALL_REDUCE], chip, 256)
  assert seconds['compute_s'] == pytest.approx(1.0) and seconds['hbm_s'] == pytest.approx(0.5)
  # ring all-reduce: 2 (n-1)/n of the bytes each way, at half the bidirectional ICI bandwidth
  assert seconds['ici_s'] == pytest.approx(2 * 255 / 256 * GRADS / 200e9)
  assert seconds['step_s'] == pytest.approx(1.0) and seconds['bound'] == 'compute'


def test_hbm_bytes_scale_by_the_unrolled_flops_or_come_from_the_hlo():
  cost = {'flops': 1e9, 'bytes accessed': 3e6}  # a scanned program: loop body counted once
  assert compiled_step.hbm_bytes_accessed(cost, 4e9, '') == pytest.approx(12e6)
  assert compiled_step.hbm_bytes_accessed(cost, 0.5e9, '') == pytest.approx(3e6)  # never scaled down
  # no cost analysis (GPU compile-only executables): XLA's analysis of the HLO text, every loop iteration counted
  compiled = jax.jit(lambda x: jax.lax.fori_loop(0, 8, lambda i, x: jnp.sin(x), x)).lower(jnp.zeros(4096)).compile()
  counted_once = compiled.cost_analysis()['bytes accessed']
  assert compiled_step.hbm_bytes_accessed(None, 0.0, compiled.as_text()) > counted_once + 7 * 2 * 4 * 4096


def test_compiler_dumped_hlo_reads_as_the_compiled_text_does():
  """The text `compile_with_hlo` takes from the compiler's dump gives the collectives and HBM bytes that jaxlib's
  re-read (`as_text`) gives, for a sharded loop with an all-reduce (8 CPU devices)."""
  mesh = jax.sharding.Mesh(jax.devices()[:8], ('data',))
  sharded = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('data'))

  def step(x):
    return jax.lax.fori_loop(0, 3, lambda i, x: jnp.sin(x) * jnp.mean(x), x)

  lowered = jax.jit(step, in_shardings=sharded, out_shardings=sharded).lower(jnp.zeros((64, 128)))
  compiled, text = compiled_step.compile_with_hlo(lowered)
  reread = compiled.as_text()
  assert compiled.memory_analysis() is not None and text != reread  # the compiler's own printing
  found = hlo_collectives.collectives(text)
  reread_found = hlo_collectives.collectives(reread)
  assert found and hlo_collectives.bytes_by_op(found) == hlo_collectives.bytes_by_op(reread_found)
  assert 'all-reduce' in hlo_collectives.bytes_by_op(found)
  assert hlo_traffic.bytes_accessed(text) == hlo_traffic.bytes_accessed(reread)
