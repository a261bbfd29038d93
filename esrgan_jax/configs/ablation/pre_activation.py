"""Ablation, Fig. 7, 3rd column: no_bn.py with the perceptual loss on VGG19 features before activation (conv5_4,
paper §3.3) instead of after it (relu5_4)."""

from pathlib import Path

import ml_collections

from esrgan_jax import configs


def get_config() -> ml_collections.ConfigDict:
  config = configs.load_config_file(Path(__file__).with_name('no_bn.py'))
  config.gan.perceptual_layers = {'conv5_4': 1.0}
  return config
