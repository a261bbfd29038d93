"""Ablation, Fig. 7 of the ESRGAN paper, 1st column: the SRGAN baseline.

SRResNet with BatchNorm (MSRResNet, 16 blocks of 64 channels), perceptual loss on VGG19 features after activation
(relu5_4, SRGAN's VGG54) and the standard GAN loss. Everything else is configs/gan.py's ESRGAN recipe, and like every
column it is pre-trained with L1 first (stage psnr), then fine-tuned (stage gan). Each next column changes one thing:
no_bn.py, pre_activation.py, ragan.py, esrgan.py. Run them all with `python -m esrgan_jax.ablation`.
"""

from pathlib import Path

import ml_collections

from esrgan_jax import configs


def get_config() -> ml_collections.ConfigDict:
  config = configs.load_config_file(Path(__file__).resolve().parents[1] / 'gan.py')
  config.stages = ('psnr', 'gan')
  config.model = ml_collections.ConfigDict(dict(arch='MSRResNet', num_feat=64, num_block=16, use_bn=True))
  config.gan.perceptual_layers = {'relu5_4': 1.0}
  config.gan.gan_type = 'vanilla'
  return config
