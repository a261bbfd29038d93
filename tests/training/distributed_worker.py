"""One process of tests/training/test_train.py's multi-process check.

usage: distributed_worker.py STAGE OUT.pkl [COORDINATOR NUM_PROCESSES PROCESS_ID]
Runs one SGD step of STAGE on 2 CPU devices per process (jax.distributed over gloo when a coordinator is given) and
pickles (host state, {'history', 'devices'}) to OUT.pkl from process 0.
"""

import pickle
import sys

import jax

jax.config.update('jax_num_cpu_devices', 2)
jax.config.update('jax_cpu_collectives_implementation', 'gloo')


def main(
  stage_name: str, out: str, coordinator: str | None = None, num_processes: str = '1', process_id: str = '0'
) -> None:
  if coordinator:
    jax.distributed.initialize(coordinator, int(num_processes), int(process_id))
  import helpers  # pylint: disable=g-import-not-at-top (after jax.distributed.initialize)

  (state,), history = helpers.run_steps(helpers.tiny_train_config(), stage_name, jax.devices(), num_steps=1, sgd_lr=0.1)
  if jax.process_index() == 0:
    with open(out, 'wb') as f:
      pickle.dump((state, {'history': history, 'devices': jax.device_count()}), f)


if __name__ == '__main__':
  main(*sys.argv[1:])
