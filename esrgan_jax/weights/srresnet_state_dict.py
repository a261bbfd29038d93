"""BasicSR's MSRResNet (SRResNet) state dicts: conv_first, body.{i}.conv{1,2}, upconv1 (and upconv2 at x4), conv_hr,
conv_last. Flax names the same modules with `body_{i}`; the architecture is read from the keys and shapes."""

import re
from collections.abc import Mapping, Sequence
from typing import Any

from esrgan_jax.models.srresnet import MSRResNet
from esrgan_jax.weights.torch_layout import conv_dim

KEY = re.compile(r'(conv_first|body\.(\d+)\.conv[12]|upconv[12]|conv_hr|conv_last)\.(weight|bias)')


def named_keys(keys: Sequence[str]) -> int:
  """How many of `keys` MSRResNet names."""
  return sum(bool(KEY.fullmatch(key)) for key in keys)


def is_candidate(keys: Sequence[str]) -> bool:
  """Whether the keys hold what only MSRResNet has: conv_first with upconv1."""
  return {'conv_first.weight', 'upconv1.weight'} <= set(keys)


def torch_scheme(module: MSRResNet) -> str:
  """MSRResNet has one key scheme, named after it."""
  del module
  return 'MSRResNet'


def infer(state: Mapping[str, Any]) -> MSRResNet:
  """MSRResNet of an unwrapped BasicSR state dict: x4 with upconv2, else x2 or x3 from upconv1's out-channels
  (num_feat * scale**2); x4 when neither fits (the error then names upconv1/upconv2)."""
  num_feat = conv_dim(state, 'conv_first.weight', 0, 64)
  up_ratio, remainder = divmod(conv_dim(state, 'upconv1.weight', 0, 4 * num_feat), num_feat)
  scale = 4 if 'upconv2.weight' in state or remainder else {4: 2, 9: 3}.get(up_ratio, 4)
  blocks = [int(m[2]) for m in map(KEY.fullmatch, state) if m and m[2]]
  return MSRResNet(
    num_in_ch=conv_dim(state, 'conv_first.weight', 1, 3),
    num_out_ch=conv_dim(state, 'conv_last.weight', 0, 3),
    scale=scale,
    num_feat=num_feat,
    num_block=1 + max(blocks, default=-1),
  )


def describe(module: MSRResNet) -> str:
  """e.g. 'MSRResNet(scale 4, 16 blocks, num_feat 64, 3->3 channels)'."""
  return (
    f'MSRResNet(scale {module.scale}, {module.num_block} blocks, num_feat {module.num_feat}, '
    f'{module.num_in_ch}->{module.num_out_ch} channels)'
  )
