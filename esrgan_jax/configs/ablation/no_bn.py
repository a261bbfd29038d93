"""Ablation, Fig. 7, 2nd column: srgan_bn.py with the BatchNorm layers removed from the generator (paper §3.1)."""

from pathlib import Path

import ml_collections

from esrgan_jax.training import default_config


def get_config() -> ml_collections.ConfigDict:
  config = default_config.load_config_file(Path(__file__).with_name('srgan_bn.py'))
  config.model.use_bn = False
  return config
