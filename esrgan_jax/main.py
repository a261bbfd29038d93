"""Trains ESRGAN: `python -m esrgan_jax.main --config CONFIG --workdir DIR [--config.FIELD=VALUE ...]`.

CONFIG is a config file (`configs/demo.py`, `configs/psnr.py`, `configs/gan.py`, ... in a checkout) or the name of
one that ships with the package (`demo`, `gan`, `ablation/esrgan`). Every field, with the paper's and BasicSR's
values and a comment each, is in `esrgan_jax/training/default_config.py`; override any of them on the command line,
e.g. `--config.gan.batch_size=32`. Rerunning the same command resumes from the last checkpoint. On multi-host
systems (TPU pods, multi-node GPU) run the same command on every host with `--distributed`.
"""

import logging as std_logging
import sys
from pathlib import Path

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from esrgan_jax import configs, runtime
from esrgan_jax.training import config_errors, preflight, train, workdir_lock

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
flags.DEFINE_alias('num_processes', 'num-processes')  # the spellings of earlier releases
flags.DEFINE_alias('process_id', 'process-id')
config_flags.DEFINE_config_file(
  'config',
  None,
  'Training config: a file (configs/*.py) or the name of a bundled '
  'one (demo, psnr, gan, ablation/esrgan, ...). Fields: '
  'esrgan_jax/training/default_config.py.',
  lock_config=True,
)


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with config mistakes reported in one line (exit 2); `--verbosity=1` keeps the traceback."""
  try:
    args = FLAGS(argv)
    FLAGS.config.keys()  # a config file that failed to load raises here, not at parse time
  except Exception as e:  # noqa: BLE001  (absl, ml_collections and the config file raise many kinds)
    if config_errors.wants_traceback(argv):
      raise
    _exit_with(config_errors.describe(e, argv))
  return args


def _exit_with(message: str, code: int = 2) -> None:
  print(f'error: {message}', file=sys.stderr)
  sys.exit(code)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # Orbax logs every save step by step at INFO; keep its warnings and errors only.
  logging.get_absl_logger().addFilter(lambda r: r.levelno >= std_logging.WARNING or '/orbax/' not in r.pathname)
  if FLAGS.distributed:
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')  # CPU collectives across processes
    jax.distributed.initialize(FLAGS.coordinator, FLAGS['num-processes'].value, FLAGS['process-id'].value)
  logging.info(
    'JAX process %d / %d, %d local / %d global devices',
    jax.process_index(),
    jax.process_count(),
    jax.local_device_count(),
    jax.device_count(),
  )
  try:  # before anything is built or written
    train.validate_config(FLAGS.config)
    preflight.check_inputs(FLAGS.config, FLAGS.workdir)
  except (ValueError, FileNotFoundError) as e:
    _exit_with(str(e))
  try:
    with workdir_lock.hold(FLAGS.workdir):
      results = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except workdir_lock.WorkdirLockedError as e:
    _exit_with(str(e), code=1)
  if jax.process_index() == 0:
    train.print_summary(results, FLAGS.workdir)
    if FLAGS.config.train_data.degradation == 'realesrgan':
      scores = train.write_strip(FLAGS.config, FLAGS.workdir)
      niqe = ', '.join(f'{label} {score:.2f}' for label, score in scores.items())
      print(f'{Path(FLAGS.workdir) / train.STRIP_FILE}: NIQE (lower is better) {niqe}')


if __name__ == '__main__':
  runtime.use_fast_cpu_flags(training=True)
  flags.mark_flags_as_required(['config', 'workdir'])
  app.run(main, argv=configs.resolve_argv(sys.argv), flags_parser=_parse_flags)
