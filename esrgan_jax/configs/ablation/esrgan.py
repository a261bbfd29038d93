"""Ablation, Fig. 7, last column: ESRGAN. ragan.py with the deeper RRDBNet generator (23 RRDBs, paper §3.1) instead
of MSRResNet; this is exactly the default config (configs/psnr.py, then configs/gan.py)."""

from pathlib import Path

import ml_collections

from esrgan_jax import configs
from esrgan_jax.configs import default


def get_config() -> ml_collections.ConfigDict:
  config = configs.load_config_file(Path(__file__).with_name('ragan.py'))
  config.model = default.get_config().model
  return config
