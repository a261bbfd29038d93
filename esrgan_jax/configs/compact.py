"""Both stages with Real-ESRGAN's SRVGGNetCompact (realesr-general-x4v3's size: 64 features, 32 convs, PReLU) in
place of RRDBNet: a generator about 14x smaller that upscales fast on CPU. The rest is the default ESRGAN recipe
(bicubic DIV2K, L1 then RaGAN + VGG19 perceptual loss); Real-ESRGAN's degradation pipeline is not part of it."""

from esrgan_jax.training import default_config


def get_config():
  config = default_config.get_config()
  config.model = default_config.compact_model()
  return config
