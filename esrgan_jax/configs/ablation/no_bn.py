"""Ablation, Fig. 7, 2nd column: srgan_bn.py with the BatchNorm layers removed from the generator (paper §3.1)."""

from pathlib import Path

import ml_collections

from esrgan_jax import configs


def get_config() -> ml_collections.ConfigDict:
  config = configs.load_config_file(Path(__file__).with_name('srgan_bn.py'))
  config.model.use_bn = False
  return config
