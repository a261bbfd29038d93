"""State dict files in either format, `.pth` (torch_io) or `.safetensors` (safetensors_io), and the state dict
(BasicSR key names, torch layout) that our model files export to.
"""

import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from esrgan_jax.models.discriminator import VGGStyleDiscriminator
from esrgan_jax.weights import model_io, safetensors_io, torch_io
from esrgan_jax.weights.discriminator_state_dict import describe_discriminator, discriminator_to_torch
from esrgan_jax.weights.generator_state_dicts import describe_generator, generator_to_torch, torch_scheme


def is_safetensors(path: str | os.PathLike) -> bool:
  """Whether `path` holds a `.safetensors` file: its header (after an 8-byte length) starts with '{', which no torch
  file does (`torch_io.FILE_HEADS`); else, for a file too damaged to tell, whether its suffix says so."""
  with open(path, 'rb') as file:
    head = file.read(9)
  return head[8:9] == b'{' or (not head.startswith(torch_io.FILE_HEADS) and Path(path).suffix == '.safetensors')


def read_state_dict(path: str | os.PathLike) -> Any:
  """A state dict from a `.pth` or `.safetensors` file (told apart by content), as `torch_io.load_state_dict`
  returns it: numpy arrays in torch layout, BasicSR wrappers as `{'params': sd, 'params_ema': sd}`."""
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No state dict file (.pth or .safetensors) at {os.fspath(path)!r}.')
  return safetensors_io.load_state_dict(path) if is_safetensors(path) else torch_io.load_state_dict(path)


class ExportedStateDict(NamedTuple):
  state: dict[str, np.ndarray]  # BasicSR key names, torch layout (OIHW), float32 (plus int64 BN counters)
  description: str  # e.g. 'RRDBNet(scale 4, 23 blocks, ...)'
  pth_wrapper_keys: tuple[str, ...]  # BasicSR checkpoint keys a .pth of it holds by default
  scheme: str  # key names written: 'BasicSR', or the scheme its tools detect (e.g. ESRGAN+ as 'ESRGAN-old')


def exported_state_dict(path: str | os.PathLike) -> ExportedStateDict:
  """The BasicSR state dict of the generator or discriminator in one of our model files (`convert to-pth` and
  `to-safetensors`). A generator's .pth holds it as both `params` and `params_ema`, as BasicSR's releases do."""
  arch, config, variables = model_io.load_model(path)
  if arch in model_io.GENERATOR_ARCHS:
    module = model_io.GENERATOR_ARCHS[arch](**config)
    return ExportedStateDict(
      generator_to_torch(module, variables['params']),
      describe_generator(module),
      ('params', 'params_ema'),
      torch_scheme(module),
    )
  if arch == 'VGGStyleDiscriminator':
    module = VGGStyleDiscriminator(**config)
    return ExportedStateDict(
      discriminator_to_torch(module, variables), describe_discriminator(module), ('params',), 'BasicSR'
    )
  raise ValueError(
    f'{path} holds {arch}; state dicts are exported for generators ({", ".join(model_io.GENERATOR_ARCHS)}) '
    'and discriminators.'
  )
