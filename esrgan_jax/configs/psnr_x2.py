"""Stage 1 at x2: RRDBNet with pixel-unshuffle input (Real-ESRGAN's x2 layout), L1 only."""

from esrgan_jax.training import default_config


def get_config():
  config = default_config.get_config()
  config.scale = 2
  config.stages = ('psnr',)
  config.train_data.tfds_name = config.val_data.tfds_name = 'div2k/bicubic_x2'
  return config
