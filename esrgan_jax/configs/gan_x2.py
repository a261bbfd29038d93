"""Stage 2 at x2: ESRGAN fine-tuning of the x2 PSNR generator."""

from esrgan_jax.training import default_config


def get_config():
  config = default_config.get_config()
  config.scale = 2
  config.stages = ('gan',)
  config.train_data.tfds_name = config.val_data.tfds_name = 'div2k/bicubic_x2'
  return config
