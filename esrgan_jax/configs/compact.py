"""Both stages with Real-ESRGAN's SRVGGNetCompact (realesr-general-x4v3's size: 64 features, 32 convs, PReLU) in
place of RRDBNet: a generator about 14x smaller that upscales fast on CPU. The rest is the default ESRGAN recipe
(bicubic DIV2K, L1 then RaGAN + VGG19 perceptual loss); Real-ESRGAN's degradation pipeline is not part of it."""

from esrgan_jax.configs import default


def get_config():
  config = default.get_config()
  config.model = default.compact_model()
  return config
