"""Trains ESRGAN: `python -m esrgan_jax.main --config CONFIG --workdir DIR [--config.FIELD=VALUE ...]`.

CONFIG is a config file (`configs/demo.py`, `configs/esrgan.py:stage=gan,scale=2`, `configs/gpu.py:gpus=8`, ... in a
checkout) or the name of one that ships with the package (`demo`, `esrgan:stage=psnr`, `ablation/esrgan`); text after
':' is the config's argument. Every field, with the paper's and BasicSR's values and a comment each, is in
`esrgan_jax/configs/default.py`; override any of them on the command line, e.g. `--config.gan.batch_size=32`.
Rerunning the same command resumes from the last checkpoint. On multi-host systems (TPU pods, multi-node GPU) run the
same command on every host with `--distributed`.
"""

import contextlib
import logging as std_logging
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from esrgan_jax import configs, extras, runtime
from esrgan_jax.data import storage
from esrgan_jax.training import config_errors, distributed, workdir_lock

# Nothing above imports JAX or TensorFlow: flags and the config file are checked and the workdir is locked first, so
# mistakes and a busy workdir are reported at once (and `--help` is fast); `main` imports the trainer after that.

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Directory for checkpoints, TensorBoard logs and exported generators.')
flags.DEFINE_bool(
  'distributed',
  False,
  'Call jax.distributed.initialize() (multi-host; arguments from the '
  'environment, e.g. TPU pods or SLURM, or from --coordinator/--num-processes/--process-id).',
)
flags.DEFINE_string('coordinator', None, 'host:port of process 0, for --distributed without auto-detection.')
flags.DEFINE_integer('num-processes', None, 'Number of processes, for --distributed without auto-detection.')
flags.DEFINE_integer('process-id', None, 'This process, for --distributed without auto-detection.')
flags.DEFINE_float(
  'distributed-timeout',
  distributed.DEFAULT_TIMEOUT_S,
  'Seconds for all --distributed processes to find each other before stopping with a message naming the missing.',
)
flags.DEFINE_alias('num_processes', 'num-processes')  # the spellings of earlier releases
flags.DEFINE_alias('process_id', 'process-id')
config_flags.DEFINE_config_file(
  'config',
  None,
  'Training config: a file (configs/*.py) or the name of a bundled '
  'one (demo, esrgan, gpu, tpu, ablation/esrgan, ...), with its argument after ":" '
  '(configs/esrgan.py:stage=gan,scale=2). Fields: esrgan_jax/configs/default.py.',
  lock_config=True,
)


@distributed.fail_together
def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  extras.require('train')
  # Orbax logs every save step by step at INFO; keep its warnings and errors only.
  logging.get_absl_logger().addFilter(lambda r: r.levelno >= std_logging.WARNING or '/orbax/' not in r.pathname)
  try:
    # A single process locks the workdir before JAX loads; processes of a distributed run agree on it after.
    with contextlib.ExitStack() as held:
      if not FLAGS.distributed:
        held.enter_context(workdir_lock.hold(FLAGS.workdir))
      _train(held)
  except workdir_lock.WorkdirLockedError as e:
    config_errors.exit_with(str(e), code=1)


def _train(held: contextlib.ExitStack) -> None:
  """Checks the config and its inputs, starts JAX, checks the batch against the devices and trains both stages."""
  from esrgan_jax.training import config_checks  # pylint: disable=g-import-not-at-top  (no TensorFlow)

  try:  # before TensorFlow loads, JAX's backends start and anything is built or written
    config_checks.check(FLAGS.config)
    config_checks.check_inputs(FLAGS.config, FLAGS.workdir)
  except (ValueError, FileNotFoundError) as e:
    config_errors.exit_with(str(e))
  import jax  # pylint: disable=g-import-not-at-top

  from esrgan_jax.data import quiet_tensorflow  # pylint: disable=g-import-not-at-top

  quiet_tensorflow.import_tensorflow()  # before the trainer's libraries (clu, orbax) import it with its banner
  from esrgan_jax.training import train  # pylint: disable=g-import-not-at-top

  if FLAGS.distributed:
    try:
      distributed.initialize(
        FLAGS.coordinator, FLAGS['num-processes'].value, FLAGS['process-id'].value, FLAGS['distributed-timeout'].value
      )
    except distributed.DistributedSetupError as e:
      config_errors.exit_with(str(e), e.exit_code)
    held.enter_context(workdir_lock.hold(FLAGS.workdir, distributed=True))
  logging.info(
    'JAX process %d / %d, %d local / %d global devices',
    jax.process_index(),
    jax.process_count(),
    jax.local_device_count(),
    jax.device_count(),
  )
  try:
    config_checks.check_batch_sizes(FLAGS.config, jax.device_count(), jax.process_count())
  except ValueError as e:
    config_errors.exit_with(str(e))
  results = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  if jax.process_index() == 0:
    train.print_summary(results, FLAGS.workdir)
    if FLAGS.config.train_data.degradation == 'realesrgan':
      scores = train.write_strip(FLAGS.config, FLAGS.workdir)
      niqe = ', '.join(f'{label} {score:.2f}' for label, score in scores.items())
      print(f'{storage.path(FLAGS.workdir) / train.STRIP_FILE}: NIQE (lower is better) {niqe}')


if __name__ == '__main__':
  runtime.use_fast_cpu_flags(training=True)
  flags.mark_flags_as_required(['config', 'workdir'])
  app.run(main, argv=configs.resolve_argv(sys.argv), flags_parser=config_errors.parse_flags)
