"""Run by tests/test_aot.py in a process of its own (libtpu is loaded here only): compiles the tiny config's GAN
step in bfloat16 for v5e:2x2 and prints one JSON line: the all-reduces' bytes per chip and G's and D's float32
parameter bytes."""

import json

import tiny_config

from esrgan_jax.planning import compiled_step, hlo_collectives, topology
from esrgan_jax.training import step_builder, steps

PER_CHIP_BATCH = 2


def main() -> None:
  config = tiny_config.get_config()
  config.half_precision = True
  devices = topology.devices(topology.parse('v5e:2x2'))
  step = compiled_step.compile_step(config, 'gan', devices, PER_CHIP_BATCH)
  found = hlo_collectives.collectives(step.hlo_text)
  mesh = steps.create_mesh(devices)
  train_step = step_builder.build_train_step(
    config, 'gan', mesh, extra_args=step_builder.abstract_extra_args(config, 'gan', mesh)
  )
  state, _ = step_builder.abstract_arguments(config, 'gan', train_step, step.global_batch)
  print(
    json.dumps(
      {
        'all_reduce_bytes': hlo_collectives.bytes_by_op(found)['all-reduce']['bytes'],
        'g_bytes': compiled_step.tree_bytes(state.g_params),
        'd_bytes': compiled_step.tree_bytes(state.d_params),
      }
    )
  )


if __name__ == '__main__':
  main()
