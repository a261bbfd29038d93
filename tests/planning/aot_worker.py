"""Run by tests/test_aot.py in a process of its own (libtpu is loaded here only): compiles the tiny config's PSNR
step for v5e:2x2 (1) with the batch gathered onto every chip, a deliberately replicated variant, and (2) searches the
largest per-chip batch under an HBM budget of HBM_BYTES (argv[1]). Prints one JSON line."""

import json
import sys

import jax
import tiny_config
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from esrgan_jax.planning import compiled_step, hlo_collectives, report, topology
from esrgan_jax.training import step_builder, steps

PER_CHIP_BATCH = 2


def gathered_batch_problems(config, devices) -> list[str]:
  """`collective_problems` of the PSNR step with its batch constrained to every chip (not data parallel)."""
  mesh = steps.create_mesh(devices)
  replicated, data = NamedSharding(mesh, P()), NamedSharding(mesh, P('data'))
  step_fn = step_builder.step_function(config, 'psnr', mesh)
  gathered = lambda state, batch: step_fn(state, jax.lax.with_sharding_constraint(batch, replicated))
  jitted = jax.jit(gathered, in_shardings=(replicated, data), out_shardings=(replicated, replicated), donate_argnums=0)
  step = step_builder.TrainStep(jitted, replicated, data, (), init=None)
  global_batch = PER_CHIP_BATCH * len(devices)
  state, batch = step_builder.abstract_arguments(config, 'psnr', step, global_batch)
  found = hlo_collectives.collectives(step.lower(state, batch).compile().as_text())
  return compiled_step.collective_problems(found, compiled_step.tree_bytes(state.g_params), global_batch, len(devices))


def main() -> None:
  config = tiny_config.get_config()
  config.model.num_block, config.scan_blocks = 2, True  # as tests/test_aot.py's TINY: its budget is this program's
  devices = topology.devices(topology.parse('v5e:2x2'))
  batch, tried = report.largest_batch(config, 'psnr', devices, hbm_bytes=float(sys.argv[1]))
  print(json.dumps({'gathered_problems': gathered_batch_problems(config, devices), 'auto': batch, 'tried': tried}))


if __name__ == '__main__':
  main()
