"""Stage 2: ESRGAN x4 fine-tuning (L1 1e-2 + VGG19 conv5_4 1.0 + RaGAN 5e-3), as BasicSR's train_ESRGAN_x4.yml.

Starts from `gan.pretrained` or, when empty, the psnr stage in the same workdir.
"""

from esrgan_jax.training import default_config


def get_config():
  config = default_config.get_config()
  config.stages = ('gan',)
  return config
