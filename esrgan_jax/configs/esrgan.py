"""ESRGAN on DIV2K, either stage or both, at x4 or x2: `--config configs/esrgan.py:stage=gan,scale=2`.

The argument (big_vision's `get_config(arg)` form, read by `esrgan_jax.configs.parse_arg`):
  stage: both (default: psnr, then gan from its generator) | psnr (L1 pre-training, BasicSR's
         train_RRDBNet_PSNR_x4.yml) | gan (fine-tuning, train_ESRGAN_x4.yml, from `gan.pretrained` or, when empty,
         the psnr stage in the same workdir);
  scale: 4 (default) | 2 (RRDBNet with pixel-unshuffle input, Real-ESRGAN's x2 layout, on div2k/bicubic_x2).
With no argument this is the default config (configs/default.py); psnr.py, gan.py, psnr_x2.py and gan_x2.py name
its four single-stage forms.
"""

import ml_collections

from esrgan_jax import configs
from esrgan_jax.configs import default

CHOICES = {'stage': ('both', 'psnr', 'gan'), 'scale': (4, 2)}  # the argument's keys, each default first
STAGES = {'both': ('psnr', 'gan'), 'psnr': ('psnr',), 'gan': ('gan',)}  # config.stages of each `stage`


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  values = configs.parse_arg(arg, 'configs/esrgan.py', **CHOICES)
  config = default.get_config()
  config.stages = STAGES[values['stage']]  # the stages this run trains
  config.scale = values['scale']  # the upscaling factor
  # DIV2K's HR images (LR is made by MATLAB bicubic); the x2 and x4 datasets hold the same HR images
  config.train_data.tfds_name = config.val_data.tfds_name = f'div2k/bicubic_x{config.scale}'
  return config
