"""Flax networks with PyTorch's (BasicSR's) names and semantics: generators, discriminator, perceptual features."""

from esrgan_jax.models.discriminator import VGGStyleDiscriminator
from esrgan_jax.models.minc import MINCNet
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.models.srresnet import MSRResNet
from esrgan_jax.models.srvgg import SRVGGNetCompact
from esrgan_jax.models.unet_discriminator import UNetDiscriminatorSN
from esrgan_jax.models.vgg import VGG19Features

__all__ = [
  'MINCNet',
  'MSRResNet',
  'RRDBNet',
  'SRVGGNetCompact',
  'UNetDiscriminatorSN',
  'VGG19Features',
  'VGGStyleDiscriminator',
]
