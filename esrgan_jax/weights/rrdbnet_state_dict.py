"""RRDBNet (ESRGAN's generator) state dicts in their three key schemes, at any scale from x1 to x16.

`GENERATOR_SCHEMES`: BasicSR / Real-ESRGAN, the ESRGAN repo of 2019 (also BSRGAN's and RealSR's) and the oldest
`model.N` Sequential one (also ESRGAN+'s). The architecture (block count, widths, upsamplings, pixel-unshuffle of
Real-ESRGAN's x2/x1, ESRGAN+'s extra 1x1 convs) is read from the keys and shapes.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from esrgan_jax.models.rrdbnet import RRDBNet, default_num_upsample
from esrgan_jax.weights.torch_layout import conv_dim

# Torch module name of each RRDBNet part per key scheme. `rdb` is conv{j} of RDB {k} (1-3) of RRDB block {i},
# `rdb_plus` ESRGAN+'s conv1x1 in it, `conv_up` the n-th x2 upsampling conv (1-based). The oldest scheme (BasicSR
# v0.0's Sequential, also ESRGAN+'s) numbers its layers: the trunk conv after the last of {num_block} blocks, the
# n-th upsampling conv at model.{3n}, then conv_hr at model.{3N+2} and conv_last at model.{3N+4} for N upsamplings.
# 'ESRGAN' is also BSRGAN's and RealSR's naming.
GENERATOR_SCHEMES = {
  'BasicSR': dict(
    conv_first='conv_first',
    rdb='body.{i}.rdb{k}.conv{j}',
    rdb_plus='body.{i}.rdb{k}.conv1x1',
    conv_body='conv_body',
    conv_up='conv_up{n}',
    conv_hr='conv_hr',
    conv_last='conv_last',
  ),
  'ESRGAN': dict(
    conv_first='conv_first',
    rdb='RRDB_trunk.{i}.RDB{k}.conv{j}',
    rdb_plus='RRDB_trunk.{i}.RDB{k}.conv1x1',
    conv_body='trunk_conv',
    conv_up='upconv{n}',
    conv_hr='HRconv',
    conv_last='conv_last',
  ),
  'ESRGAN-old': dict(
    conv_first='model.0',
    rdb='model.1.sub.{i}.RDB{k}.conv{j}.0',
    rdb_plus='model.1.sub.{i}.RDB{k}.conv1x1',
    conv_body='model.1.sub.{num_block}',
    conv_up='model.{up_index}',
    conv_hr='model.{hr_index}',
    conv_last='model.{last_index}',
  ),
}
_FLAX_RDB_CONV = re.compile(r'body_(?P<i>\d+)/rdb(?P<k>\d)/conv(?P<j>\d|1x1)')
_FLAX_CONV_UP = re.compile(r'conv_up(?P<n>\d+)')


def _template_regex(template: str, capture: str = '') -> str:
  """Regex of the torch module names a scheme template makes: each {field} is digits (group 1 if it is `capture`)."""
  return re.sub(r'\\\{(\w+)\\\}', lambda m: r'(\d+)' if m[1] == capture else r'\d+', re.escape(template))


def _num_blocks(keys: Sequence[str], scheme: str) -> int:
  pattern = re.compile(_template_regex(GENERATOR_SCHEMES[scheme]['rdb'], 'i') + r'\.')
  return 1 + max((int(m[1]) for m in map(pattern.match, keys) if m), default=-1)


def _num_upsample(keys: Sequence[str], scheme: str) -> int:
  """x2 upsampling stages: the highest conv_up{n}, or in the numbered scheme (3 * stages + 4) = conv_last's index."""
  names = GENERATOR_SCHEMES[scheme]
  if '{n}' in names['conv_up']:
    pattern = re.compile(_template_regex(names['conv_up'], 'n') + r'\.')
    return max((int(m[1]) for m in map(pattern.match, keys) if m), default=0)
  pattern = re.compile(_template_regex(names['conv_last'], 'last_index') + r'\.weight')
  return max(0, (max((int(m[1]) for m in map(pattern.fullmatch, keys) if m), default=10) - 4) // 3)


def _layer_indices(num_block: int, num_upsample: int) -> dict[str, int]:
  """The numbers the scheme templates need besides the per-layer ones."""
  return dict(num_block=num_block, hr_index=3 * num_upsample + 2, last_index=3 * num_upsample + 4)


def named_keys(keys: Sequence[str], scheme: str) -> int:
  """How many of `keys` the `GENERATOR_SCHEMES` entry `scheme` names."""
  names = '|'.join(map(_template_regex, GENERATOR_SCHEMES[scheme].values()))
  pattern = re.compile(rf'(?:{names})\.(?:weight|bias)')
  return sum(bool(pattern.fullmatch(key)) for key in keys)


def is_candidate(keys: Sequence[str], scheme: str) -> bool:
  """Whether the keys hold an RDB conv in `scheme`'s names."""
  return _num_blocks(keys, scheme) > 0


def torch_scheme(module: RRDBNet) -> str:
  """The scheme an RRDBNet is written in: BasicSR's, except ESRGAN+ in its own numbered one (spandrel's)."""
  return 'ESRGAN-old' if module.esrgan_plus else 'BasicSR'


def infer(state: Mapping[str, Any], scheme: str) -> RRDBNet:
  """RRDBNet of an unwrapped state dict in `scheme`: N x2 upsamplings from the keys; the input is pixel-unshuffled
  by f = 2 or 4 when conv_first's in-channels are f*f times conv_last's out-channels and 2**N is a multiple of f
  (Real-ESRGAN's x2/x1), and the scale is 2**N / f. Otherwise in- and out-channels are read as they are."""
  keys = list(state)
  names, num_block, stages = GENERATOR_SCHEMES[scheme], _num_blocks(keys, scheme), _num_upsample(keys, scheme)
  indices = _layer_indices(num_block, stages)
  num_out_ch = conv_dim(state, names['conv_last'].format(**indices) + '.weight', 0, 3)
  first_in_ch = conv_dim(state, names['conv_first'] + '.weight', 1, num_out_ch)
  factor = {4: 2, 16: 4}.get(first_in_ch // num_out_ch, 1) if first_in_ch % num_out_ch == 0 else 1
  factor = factor if 2**stages % factor == 0 else 1
  scale = 2**stages // factor
  return RRDBNet(
    num_in_ch=first_in_ch // factor**2,
    num_out_ch=num_out_ch,
    scale=scale,
    num_block=num_block,
    num_feat=conv_dim(state, names['conv_first'] + '.weight', 0, 64),
    num_grow_ch=conv_dim(state, names['rdb'].format(i=0, k=1, j=1) + '.weight', 0, 32),
    num_upsample=None if stages == default_num_upsample(scale) else stages,
    esrgan_plus=any(re.fullmatch(_template_regex(names['rdb_plus']) + r'\.weight', key) for key in keys),
  )


def torch_module(module: RRDBNet, scheme: str) -> Callable[[str], str]:
  """Flax module path ('conv_first', 'body_3/rdb1/conv2', 'conv_up3', ...) -> its torch name in `scheme`."""
  names = GENERATOR_SCHEMES[scheme]
  indices = _layer_indices(module.num_block, module.upsample_stages)

  def name(flax_module: str) -> str:
    if rdb := _FLAX_RDB_CONV.fullmatch(flax_module):
      return names['rdb_plus' if rdb['j'] == '1x1' else 'rdb'].format(**rdb.groupdict())
    if up := _FLAX_CONV_UP.fullmatch(flax_module):
      return names['conv_up'].format(n=up['n'], up_index=3 * int(up['n']))
    return names[flax_module].format(**indices)

  return name


def describe(module: RRDBNet) -> str:
  """e.g. 'RRDBNet(scale 4, 23 blocks, num_feat 64, num_grow_ch 32, 3->3 channels)'."""
  extra = f', {module.upsample_stages} x2 upsamplings' if module.num_upsample is not None else ''
  extra += ', ESRGAN+' if module.esrgan_plus else ''
  return (
    f'RRDBNet(scale {module.scale}, {module.num_block} blocks, num_feat {module.num_feat}, num_grow_ch '
    f'{module.num_grow_ch}, {module.num_in_ch}->{module.num_out_ch} channels{extra})'
  )
