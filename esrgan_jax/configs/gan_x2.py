"""Stage 2 at x2: ESRGAN fine-tuning of the x2 PSNR generator.

The same as `--config configs/esrgan.py:stage=gan,scale=2`; this file keeps the name earlier commands used.
"""

import ml_collections

from esrgan_jax.configs import esrgan


def get_config() -> ml_collections.ConfigDict:
  return esrgan.get_config('stage=gan,scale=2')
