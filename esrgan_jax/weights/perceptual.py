"""The perceptual-loss networks: one table of what each is, where its weights come from and how they are read.

`config.gan.perceptual_network` names a row. Weights are converted once from the official file
(`python -m esrgan_jax.convert <command> <official_file>`) into `esrgan_jax.weights.locations.weights_dir()`, unless
a path is given (`config.gan.vgg_weights`): `vgg19_from_torch` reads torchvision's VGG19 state dict, `minc_from_torch`
ESRGAN's MINCNet one.
"""

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import flax.linen as nn

from esrgan_jax.models.minc import MINCNet
from esrgan_jax.models.vgg import VGG19_LAYERS, VGG19Features
from esrgan_jax.weights import model_io, torch_layout
from esrgan_jax.weights.locations import weights_file
from esrgan_jax.weights.official_files import PERCEPTUAL_FILES, PerceptualFiles


def torchvision_vgg19_module(flax_module: str) -> str:
  """'conv5_4' -> 'features.34': its VGG19_LAYERS index plus one max-pool per earlier stage."""
  return f'features.{VGG19_LAYERS.index(flax_module) + int(flax_module[4]) - 1}'


def vgg19_from_torch(state: Mapping) -> Any:
  """`VGG19Features` params from torchvision's vgg19 state dict (`features.N.weight/bias`; `classifier.*` ignored)."""
  state = torch_layout.unwrap(state, None)
  shapes = torch_layout.variable_shapes(VGG19Features(), (1, 16, 16, 3))
  keys = torch_layout.torch_keys(list(shapes), torchvision_vgg19_module)
  return torch_layout.variables_from_torch(
    state, shapes, keys, lambda key: key.startswith('classifier.'), "torchvision's vgg19 (features.N)"
  )['params']


def minc_from_torch(state: Mapping) -> Any:
  """`MINCNet` params from ESRGAN's `VGG16minc_53.pth` (`conv11.weight` ... `conv53.bias`, torch OIHW)."""
  state = torch_layout.unwrap(state, None)
  shapes = torch_layout.variable_shapes(MINCNet(), (1, 16, 16, 3))
  keys = torch_layout.torch_keys(list(shapes), torch_layout.same_torch_module)
  return torch_layout.variables_from_torch(
    state, shapes, keys, lambda key: False, "ESRGAN's MINCNet (conv11 .. conv53)"
  )['params']


@dataclasses.dataclass(frozen=True)
class PerceptualNetwork:
  files: PerceptualFiles  # its label and arch, the official file users bring and the converted one
  module: type[nn.Module]  # x [B, H, W, 3] in [0, 1] -> {layer: features}
  layers: tuple[str, ...]  # the layer names a config may weight
  from_torch: Callable[[Mapping[str, Any]], Any]  # official state dict -> params


PERCEPTUAL_NETWORKS = {  # config.gan.perceptual_network (and the convert command) -> its row
  'vgg19': PerceptualNetwork(PERCEPTUAL_FILES['vgg19'], VGG19Features, VGG19_LAYERS, vgg19_from_torch),
  'minc': PerceptualNetwork(PERCEPTUAL_FILES['minc'], MINCNet, ('conv53',), minc_from_torch),
}


def network(name: str) -> PerceptualNetwork:
  """The row of `name`; ValueError naming the choices otherwise."""
  if name not in PERCEPTUAL_NETWORKS:
    raise ValueError(f'Unknown perceptual network {name!r}; choose one of {", ".join(PERCEPTUAL_NETWORKS)}.')
  return PERCEPTUAL_NETWORKS[name]


def weights_path(name: str, given: str | os.PathLike | None = None) -> Path:
  """Where the converted weights of network `name` are: `given`, else its file in the weights directory."""
  return weights_file(network(name).files.file_name, given)


def load_params(name: str = 'vgg19', path: str | os.PathLike | None = None) -> Any:
  """Params of perceptual network `name` from a file written by `python -m esrgan_jax.convert` (`path`, else
  `weights_path(name)`). FileNotFoundError names the official file and the command that converts it."""
  row, path = network(name).files, weights_path(name, path)
  if not path.is_file():
    raise FileNotFoundError(
      f'{row.arch} weights not found at {path}. The perceptual loss needs {row.description}. Convert it once with: '
      f'python -m esrgan_jax.convert {name} {row.official_file} {path}'
    )
  stored, _, variables = model_io.load_model(path)
  if stored != row.arch:
    raise ValueError(f'{path} holds a {stored}, not {row.arch} weights.')
  return variables['params']
