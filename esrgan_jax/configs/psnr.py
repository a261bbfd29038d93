"""Stage 1: PSNR-oriented RRDBNet x4 (L1 only), as BasicSR's train_RRDBNet_PSNR_x4.yml.

The same as `--config configs/esrgan.py:stage=psnr,scale=4`; this file keeps the name earlier commands used.
"""

import ml_collections

from esrgan_jax.configs import esrgan


def get_config() -> ml_collections.ConfigDict:
  return esrgan.get_config('stage=psnr,scale=4')
