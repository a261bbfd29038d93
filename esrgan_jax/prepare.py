"""Crops large HR images into overlapping sub-images, written once as PNG files or TFRecord shards.

    python -m esrgan_jax.prepare --input DIV2K_train_HR --output DIV2K_train_HR_sub
    python -m esrgan_jax.prepare --input DIV2K_train_HR --output div2k_sub_tfrecord --format tfrecord

The windows are BasicSR's extract_subimages (see `esrgan_jax.data.subimages`). Training reads the PNG folder with
`data.source = 'folder'` and the shards with `data.source = 'tfrecord'`.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from esrgan_jax import cli_help, extras
from esrgan_jax.data.subimages import prepare


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
    prog='python -m esrgan_jax.prepare', description=__doc__, formatter_class=cli_help.HelpFormatter
  )
  parser.add_argument('--input', required=True, help='folder of HR images (searched recursively)')
  parser.add_argument('--output', required=True, help='new (or empty) output folder')
  parser.add_argument('--crop', type=int, default=480, help='sub-image size')
  parser.add_argument('--step', type=int, default=240, help='stride between windows')
  parser.add_argument(
    '--thresh-size',
    '--thresh_size',
    dest='thresh_size',
    type=int,
    default=0,
    help='add an edge-flush last window when more than this many pixels are left',
  )
  parser.add_argument(
    '--format', choices=('png', 'tfrecord'), default='png', help='PNG files or TFRecord shards (the [train] extra)'
  )
  parser.add_argument(
    '--num-shards',
    '--num_shards',
    dest='num_shards',
    type=int,
    default=16,
    help='TFRecord shards (>= number of training hosts)',
  )
  parser.add_argument(
    '--compress-level', '--compress_level', dest='compress_level', type=int, default=3, help='PNG zlib level 0-9'
  )
  parser.add_argument('--workers', type=int, default=None, help='threads (default: CPU count)')
  return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the CLI; returns the exit code."""
  args = _parse_args(argv)
  if args.format == 'tfrecord':
    extras.require('train')
  try:
    count = prepare(
      args.input,
      args.output,
      crop=args.crop,
      step=args.step,
      thresh_size=args.thresh_size,
      output_format=args.format,
      num_shards=args.num_shards,
      compress_level=args.compress_level,
      workers=args.workers,
    )
  except (ValueError, FileExistsError) as e:
    print(e, file=sys.stderr)
    return 2
  if args.format == 'tfrecord':
    from esrgan_jax.data.records import TFRECORD_SUFFIX  # pylint: disable=g-import-not-at-top  (loaded by prepare)

    where = f"data.source = 'tfrecord', data.tfrecord_pattern = '{Path(args.output) / ('*' + TFRECORD_SUFFIX)}'"
  else:
    where = f"data.source = 'folder', data.hr_dir = '{args.output}'"
  print(f'Wrote {count} sub-images to {args.output}; train on them with {where}.')
  return 0


if __name__ == '__main__':
  sys.exit(main())
