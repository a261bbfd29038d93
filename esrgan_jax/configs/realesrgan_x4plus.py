"""Real-ESRGAN x4plus, the second stage, as Real-ESRGAN's train_realesrgan_x4plus.yml: from the Real-ESRNet generator
(configs/realesrnet_x4plus.py in the same workdir, or `--config.gan.pretrained`), L1 (1) + VGG19 perceptual loss
(conv1_2 0.1, conv2_2 0.1, conv3_4 1, conv4_4 1, conv5_4 1, before ReLU; weight 1) + vanilla GAN (0.1) against a
U-Net discriminator with spectral norm (64 features, skip connections); batch 48, 256-px GT patches degraded in the
step, Adam 1e-4 for both nets (0.9, 0.99), 400k steps, EMA 0.999. The pixel and perceptual targets are the
USM-sharpened GT, D's real images the GT as it is. Needs VGG19 weights (see third_party/vgg_weights).
"""

from pathlib import Path

from esrgan_jax import configs


def get_config():
  config = configs.load_config_file(Path(__file__).with_name('realesrnet_x4plus.py'))
  config.stages = ('gan',)
  return config
