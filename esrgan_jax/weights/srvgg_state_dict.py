"""Real-ESRGAN's SRVGGNetCompact state dicts: body.{i}.weight/bias only (convs at even i, PReLU slopes at odd i).
Flax names the same modules `body_{i}`; the architecture is read from the keys and shapes."""

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from esrgan_jax.models.srvgg import SRVGGNetCompact
from esrgan_jax.weights.torch_layout import conv_dim

KEY = re.compile(r'body\.(\d+)\.(weight|bias)')


def is_candidate(keys: Sequence[str]) -> bool:
  """Whether the keys are nothing but body.{i} convs and slopes, body.0 among them."""
  return 'body.0.weight' in keys and all(KEY.fullmatch(key) for key in keys)


def named_keys(keys: Sequence[str]) -> int:
  """How many of `keys` SRVGGNetCompact names."""
  return sum(bool(KEY.fullmatch(key)) for key in keys)


def torch_scheme(module: SRVGGNetCompact) -> str:
  """SRVGGNetCompact has one key scheme, Real-ESRGAN's, named after it."""
  del module
  return 'SRVGGNetCompact'


def infer(state: Mapping[str, Any]) -> SRVGGNetCompact:
  """SRVGGNetCompact of Real-ESRGAN's keys: num_conv from the last body index (2 * num_conv + 2), the scale from its
  out-channels (num_in_ch * scale**2). PReLU slopes at body.1 say act_type 'prelu'; ReLU and LeakyReLU leave no
  weights, so they cannot be told apart and are refused."""
  last = max(int(m[1]) for m in map(KEY.fullmatch, state) if m)
  num_in_ch = conv_dim(state, 'body.0.weight', 1, 3)
  out_ch = conv_dim(state, f'body.{last}.weight', 0, num_in_ch)
  scale = math.isqrt(out_ch // num_in_ch)
  if 'body.1.weight' not in state:
    raise ValueError(
      'This SRVGGNetCompact has no PReLU weights (body.1.weight): its activation is ReLU or LeakyReLU, which the '
      "state dict does not say, so it cannot be converted; PReLU models (all of Real-ESRGAN's) are supported."
    )
  if scale < 1 or out_ch != num_in_ch * scale**2:
    raise ValueError(
      f'body.{last}.weight has {out_ch} output channels; an SRVGGNetCompact with {num_in_ch} input channels needs '
      f'{num_in_ch} * scale**2 (it adds the upscaled input, so in- and out-channels are equal).'
    )
  return SRVGGNetCompact(
    num_in_ch=num_in_ch,
    num_out_ch=num_in_ch,
    scale=scale,
    num_feat=conv_dim(state, 'body.0.weight', 0, 64),
    num_conv=max(0, (last - 2) // 2),
    act_type='prelu',
  )


def describe(module: SRVGGNetCompact) -> str:
  """e.g. 'SRVGGNetCompact(scale 4, 32 convs, num_feat 64, act prelu, 3->3 channels)'."""
  return (
    f'SRVGGNetCompact(scale {module.scale}, {module.num_conv} convs, num_feat {module.num_feat}, '
    f'act {module.act_type}, {module.num_in_ch}->{module.num_out_ch} channels)'
  )
