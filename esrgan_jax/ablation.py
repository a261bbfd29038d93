"""The paper's ablation study (§4.3, Fig. 7): `python -m esrgan_jax.ablation --workdir DIR --steps N [--configs DIR]
[--variants a b ...] [--demo] [--batch-size B] [--vgg-weights PATH]`; see `esrgan_jax.training.ablation`."""

import argparse
import sys
from collections.abc import Sequence

from esrgan_jax import cli_help, extras, runtime
from esrgan_jax.configs import CONFIGS_DIR


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the CLI; returns 0 when the report is written, 2 on unusable arguments or configs (or without the [train]
  extra)."""
  extras.require('train')
  from esrgan_jax.training.ablation import COLUMNS, prepare, run  # pylint: disable=g-import-not-at-top  (TensorFlow)

  parser = argparse.ArgumentParser(
    prog='python -m esrgan_jax.ablation', description=__doc__.split('\n')[0], formatter_class=cli_help.HelpFormatter
  )
  parser.add_argument('--workdir', required=True, help='One folder per variant, plus the report files.')
  parser.add_argument('--steps', type=int, required=True, help='Training steps per stage, the same for every variant.')
  parser.add_argument('--configs', default=str(CONFIGS_DIR / 'ablation'), help='Folder of variant configs.')
  parser.add_argument('--variants', nargs='+', default=list(COLUMNS), help='Variant names (files), in table order.')
  parser.add_argument('--demo', action='store_true', help='Demo data and demo-size networks (minutes on a CPU).')
  parser.add_argument(
    '--batch-size',
    '--batch_size',
    dest='batch_size',
    type=int,
    default=None,
    help="Global batch of both stages (default: the config's).",
  )
  parser.add_argument(
    '--vgg-weights',
    '--vgg_weights',
    dest='vgg_weights',
    default=None,
    help='VGG19 weights file (default: vgg19.msgpack in the weights directory, $ESRGAN_JAX_WEIGHTS).',
  )
  args = parser.parse_args(argv)
  try:
    variants = prepare(
      args.workdir,
      args.steps,
      configs_dir=args.configs,
      variants=args.variants,
      demo=args.demo,
      batch_size=args.batch_size,
      vgg_weights=args.vgg_weights,
    )
  except (FileNotFoundError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  print(run(variants, args.workdir, args.steps, args.demo))
  return 0


if __name__ == '__main__':
  runtime.use_fast_cpu_flags(training=True)
  sys.exit(main())
