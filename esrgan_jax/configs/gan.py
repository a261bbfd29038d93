"""Stage 2: ESRGAN x4 fine-tuning (L1 1e-2 + VGG19 conv5_4 1.0 + RaGAN 5e-3), as BasicSR's train_ESRGAN_x4.yml,
from `gan.pretrained` or, when empty, the psnr stage in the same workdir.

The same as `--config configs/esrgan.py:stage=gan,scale=4`; this file keeps the name earlier commands used.
"""

import ml_collections

from esrgan_jax.configs import esrgan


def get_config() -> ml_collections.ConfigDict:
  return esrgan.get_config('stage=gan,scale=4')
