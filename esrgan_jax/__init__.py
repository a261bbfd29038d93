"""esrgan_jax: ESRGAN in JAX/Flax."""
from esrgan_jax.discriminator import VGGStyleDiscriminator
from esrgan_jax.imresize import imresize
from esrgan_jax.interpolate import interpolate
from esrgan_jax.rrdbnet import RRDBNet
from esrgan_jax.vgg import VGG19Features
