"""Entry point: `python -m esrgan_jax.main --config configs/gan.py --workdir DIR [--config.field=value ...]`.

Kept short on purpose; the training logic is in `train.py`. Rerunning the same command resumes from the last
checkpoint. On multi-host systems (TPU pods, multi-node GPU) run the same command on every host.
"""
import logging as std_logging

import jax
import tensorflow as tf
from absl import app, flags, logging
from ml_collections import config_flags

from esrgan_jax import train, xla_flags

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Directory for checkpoints, TensorBoard logs and exported generators.')
flags.DEFINE_bool('distributed', False, 'Call jax.distributed.initialize() (multi-host; arguments from the '
                  'environment, e.g. TPU pods or SLURM, or from --coordinator/--num_processes/--process_id).')
flags.DEFINE_string('coordinator', None, 'host:port of process 0, for --distributed without auto-detection.')
flags.DEFINE_integer('num_processes', None, 'Number of processes, for --distributed without auto-detection.')
flags.DEFINE_integer('process_id', None, 'This process, for --distributed without auto-detection.')
config_flags.DEFINE_config_file('config', None, 'Training config file (configs/*.py).', lock_config=True)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # Orbax logs every save step by step at INFO; keep its warnings and errors only.
  logging.get_absl_logger().addFilter(lambda r: r.levelno >= std_logging.WARNING or '/orbax/' not in r.pathname)
  tf.config.set_visible_devices([], 'GPU')  # tf.data only; keep the accelerators for JAX
  if FLAGS.distributed:
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')  # CPU collectives across processes
    jax.distributed.initialize(FLAGS.coordinator, FLAGS.num_processes, FLAGS.process_id)
  logging.info('JAX process %d / %d, %d local / %d global devices', jax.process_index(), jax.process_count(),
               jax.local_device_count(), jax.device_count())
  results = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  if jax.process_index() == 0:
    train.print_summary(results, FLAGS.workdir)


if __name__ == '__main__':
  xla_flags.use_fast_cpu_flags()
  flags.mark_flags_as_required(['config', 'workdir'])
  app.run(main)
