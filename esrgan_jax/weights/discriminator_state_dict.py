"""BasicSR's VGG-style discriminator state dicts <-> `VGGStyleDiscriminator` variables {'params', 'batch_stats'}.

BasicSR names its modules as we do (conv0_0, bn0_0, ..., linear2); BN running mean/var are `batch_stats`.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np

from esrgan_jax.models.discriminator import VGGStyleDiscriminator
from esrgan_jax.weights import torch_layout
from esrgan_jax.weights.torch_layout import FlatPath


def describe_discriminator(module: VGGStyleDiscriminator) -> str:
  return f'VGGStyleDiscriminator(input_size {module.input_size}, num_feat {module.num_feat})'


def _keys(module: VGGStyleDiscriminator) -> tuple[dict[FlatPath, tuple[int, ...]], dict[str, FlatPath]]:
  """(flat path -> shape, torch key -> flat path) of the discriminator's variables."""
  shapes = torch_layout.variable_shapes(module, (1, module.input_size, module.input_size, module.num_in_ch))
  return shapes, torch_layout.torch_keys(list(shapes), torch_layout.same_torch_module)


def discriminator_from_torch(state: Mapping, params_key: str | None = None) -> tuple[VGGStyleDiscriminator, Any]:
  """(VGGStyleDiscriminator, {'params', 'batch_stats'}) from BasicSR's discriminator state dict.

  BN running mean/var become `batch_stats` (`num_batches_tracked` is ignored); input_size is 256 when conv5_* is
  present, else 128. Unwraps like `generator_from_torch`; raises ValueError listing every bad key.
  """
  state = torch_layout.unwrap(state, params_key)
  module = VGGStyleDiscriminator(
    num_in_ch=torch_layout.conv_dim(state, 'conv0_0.weight', 1, 3),
    num_feat=torch_layout.conv_dim(state, 'conv0_0.weight', 0, 64),
    input_size=256 if any(key.startswith('conv5_') for key in state) else 128,
  )
  shapes, keys = _keys(module)
  return module, torch_layout.variables_from_torch(
    state, shapes, keys, lambda key: key.endswith('.num_batches_tracked'), describe_discriminator(module)
  )


def discriminator_to_torch(module: VGGStyleDiscriminator, variables: Any) -> dict[str, np.ndarray]:
  """BasicSR-named state dict of a discriminator's {'params', 'batch_stats'}; num_batches_tracked is written as 0."""
  shapes, keys = _keys(module)
  state = torch_layout.variables_to_torch(variables, shapes, keys, describe_discriminator(module))
  for key in [k for k in state if k.endswith('.running_mean')]:
    state[key.replace('.running_mean', '.num_batches_tracked')] = np.array(0, np.int64)
  return state
