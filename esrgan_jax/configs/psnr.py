"""Stage 1: PSNR-oriented RRDBNet x4 (L1 only), as BasicSR's train_RRDBNet_PSNR_x4.yml."""

from esrgan_jax.training import default_config


def get_config():
  config = default_config.get_config()
  config.stages = ('psnr',)
  return config
