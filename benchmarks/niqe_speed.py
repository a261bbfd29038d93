"""NIQE of one image (`esrgan_jax.inference.niqe.niqe`, numpy on one core): seconds per call.

    python benchmarks/niqe_speed.py [--size 480x500] [--rounds 10] [--json FILE]

The image is scikit-image's `coffee` resized to the given size (default: Set14's baboon, 480x500, 25 blocks);
target: well under a second on one CPU core.
"""

import argparse
import json

import skimage.data
import skimage.transform
import timing

from esrgan_jax.data.quantize import to_uint8
from esrgan_jax.inference import niqe


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--size', default='480x500', help='HxW of the image')
  parser.add_argument('--rounds', type=int, default=10)
  parser.add_argument('--json', default=None, help='file for the result rows')
  args = parser.parse_args()
  height, width = map(int, args.size.split('x'))
  image = to_uint8(skimage.transform.resize(skimage.data.coffee(), (height, width), anti_aliasing=True))
  with timing.OtherLoad() as load:
    times = timing.interleave({'niqe': lambda: niqe.niqe(image, crop_border=4)}, rounds=args.rounds)
  rows = [
    timing.row(
      'niqe',
      f'{height}x{width}',
      'numpy',
      times['niqe'],
      blocks=niqe.num_blocks(height, width, 4),
      other_load=load.cores,
      note=f'NIQE {niqe.niqe(image, crop_border=4):.4f}',
    )
  ]
  timing.print_rows(rows)
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(rows, f, indent=2)


if __name__ == '__main__':
  main()
