"""The official PyTorch files the converters read and the files they write, as plain data.

No JAX or flax here: `python -m esrgan_jax.convert --help` builds its subcommands from these tables, and the
converters (`generator_state_dicts`, `discriminator_state_dict`, `perceptual`, `lpips_weights`, `dists_weights`)
read the same rows.
"""

import dataclasses

# BasicSR checkpoint keys holding a state dict, in order of preference.
WRAPPER_KEYS = ('params_ema', 'params')


@dataclasses.dataclass(frozen=True)
class PerceptualFiles:
  label: str  # as tables show it
  arch: str  # the model_io arch of the network: x [B, H, W, 3] in [0, 1] -> {layer: features}
  official_file: str  # the file users bring
  description: str  # where that file comes from
  file_name: str  # the converted file in the weights directory


PERCEPTUAL_FILES = {  # config.gan.perceptual_network (and the convert command) -> its files
  'vgg19': PerceptualFiles(
    'VGG19',
    'VGG19Features',
    'vgg19-dcbb9e9d.pth',
    'torchvision\'s ImageNet VGG19 (vgg19-dcbb9e9d.pth, from torchvision.models.vgg19(weights="IMAGENET1K_V1") '
    'or the PyTorch model zoo)',
    'vgg19.msgpack',
  ),
  'minc': PerceptualFiles(
    'MINC',
    'MINCNet',
    'VGG16minc_53.pth',
    "ESRGAN's material-recognition VGG16 (VGG16minc_53.pth, from the ESRGAN repository's PIRM models)",
    'vgg16_minc53.msgpack',
  ),
}


@dataclasses.dataclass(frozen=True)
class LpipsFiles:
  backbone: str  # torchvision's file name
  backbone_url: str  # where torchvision downloads it from
  torchvision_model: str  # the torchvision constructor that holds it
  linear: str  # the linear-layer file inside the lpips wheel
  converted: str  # the converted file in the weights directory


LPIPS_FILES = {
  'alex': LpipsFiles(
    'alexnet-owt-7be5be79.pth',
    'https://download.pytorch.org/models/alexnet-owt-7be5be79.pth',
    'alexnet',
    'lpips/weights/v0.1/alex.pth',
    'lpips_alex.msgpack',
  ),
  'vgg': LpipsFiles(
    'vgg16-397923af.pth',
    'https://download.pytorch.org/models/vgg16-397923af.pth',
    'vgg16',
    'lpips/weights/v0.1/vgg.pth',
    'lpips_vgg.msgpack',
  ),
}


@dataclasses.dataclass(frozen=True)
class DistsFiles:
  backbone: str  # torchvision's ImageNet VGG16
  backbone_url: str  # where torchvision downloads it from
  package: str  # the wheel that holds alpha and beta
  package_weights: str  # alpha and beta, inside the wheel
  converted: str  # the converted file in the weights directory


DISTS_FILES = DistsFiles(
  'vgg16-397923af.pth',
  'https://download.pytorch.org/models/vgg16-397923af.pth',
  'dists-pytorch',
  'DISTS_pytorch/weights.pt',
  'dists.msgpack',
)
