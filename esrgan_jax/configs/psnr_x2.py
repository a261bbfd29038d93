"""Stage 1 at x2: RRDBNet with pixel-unshuffle input (Real-ESRGAN's x2 layout), L1 only.

The same as `--config configs/esrgan.py:stage=psnr,scale=2`; this file keeps the name earlier commands used.
"""

import ml_collections

from esrgan_jax.configs import esrgan


def get_config() -> ml_collections.ConfigDict:
  return esrgan.get_config('stage=psnr,scale=2')
