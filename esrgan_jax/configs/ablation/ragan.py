"""Ablation, Fig. 7, 4th column: pre_activation.py with the relativistic average GAN (paper §3.2) instead of the
standard GAN."""

from pathlib import Path

import ml_collections

from esrgan_jax import configs


def get_config() -> ml_collections.ConfigDict:
  config = configs.load_config_file(Path(__file__).with_name('pre_activation.py'))
  config.gan.gan_type = 'ragan'
  return config
