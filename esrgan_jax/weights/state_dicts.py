"""Converts between PyTorch state dicts (numpy arrays from `esrgan_jax.weights.torch_io`) and our flax variables.

RRDBNet generators come in three key schemes (`GENERATOR_SCHEMES`): BasicSR / Real-ESRGAN, the ESRGAN repo of 2019
(also BSRGAN's and RealSR's) and the oldest `model.N` Sequential one (also ESRGAN+'s), at any scale from x1 to x16;
BasicSR's MSRResNet (SRResNet) and Real-ESRGAN's SRVGGNetCompact are recognised by their keys too. Any may be
wrapped as BasicSR's `{'params': sd, 'params_ema': sd}` and/or carry DataParallel's `module.` prefix. The
architecture (block count, widths, scale) is inferred from the keys and shapes. Also: BasicSR's discriminator,
torchvision's VGG19 and ESRGAN's MINCNet.
"""

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from flax import traverse_util

from esrgan_jax.models.discriminator import VGGStyleDiscriminator
from esrgan_jax.models.minc import MINCNet
from esrgan_jax.models.rrdbnet import RRDBNet, default_num_upsample
from esrgan_jax.models.srresnet import MSRResNet
from esrgan_jax.models.srvgg import SRVGGNetCompact
from esrgan_jax.models.vgg import VGG19_LAYERS, VGG19Features
from esrgan_jax.weights import families
from esrgan_jax.weights.official_files import WRAPPER_KEYS

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
# BasicSR's MSRResNet: conv_first, body.{i}.conv{1,2}, upconv1 (and upconv2 at x4), conv_hr, conv_last.
_MSRRESNET_KEY = re.compile(r'(conv_first|body\.(\d+)\.conv[12]|upconv[12]|conv_hr|conv_last)\.(weight|bias)')
# Real-ESRGAN's SRVGGNetCompact: body.{i}.weight/bias only (convs at even i, PReLU slopes at odd i).
_COMPACT_KEY = re.compile(r'body\.(\d+)\.(weight|bias)')
# Flax (collection, leaf name) -> torch parameter or buffer name.
_TORCH_LEAF_NAMES = {
  ('params', 'kernel'): 'weight',
  ('params', 'scale'): 'weight',
  ('params', 'bias'): 'bias',
  ('params', 'negative_slope'): 'weight',  # PReLU
  ('batch_stats', 'mean'): 'running_mean',
  ('batch_stats', 'var'): 'running_var',
}
_FLAX_RDB_CONV = re.compile(r'body_(?P<i>\d+)/rdb(?P<k>\d)/conv(?P<j>\d|1x1)')
_FLAX_CONV_UP = re.compile(r'conv_up(?P<n>\d+)')
SUPPORTED_FAMILIES = (
  'RRDBNet (ESRGAN, BasicSR, Real-ESRGAN, BSRGAN/RealSR and ESRGAN+ key names, x1-x16), '
  "BasicSR's MSRResNet and Real-ESRGAN's SRVGGNetCompact"
)
_GENERATOR_HINT = (
  f'Supported generator families: {SUPPORTED_FAMILIES} (e.g. RRDB_ESRGAN_x4.pth, RealESRGAN_x4plus.pth, '
  'MSRResNet_x4.pth, realesr-general-x4v3.pth).'
)

FlatPath = tuple[str, ...]  # (collection, *module names, leaf name)
Generator = RRDBNet | MSRResNet | SRVGGNetCompact


def _flax_axes(path: FlatPath, ndim: int) -> tuple[int, ...]:
  """Axes that turn a torch tensor into the flax variable at `path`: OIHW -> HWIO for conv kernels, [out, in] ->
  [in, out] for dense kernels, unchanged for everything else."""
  return (*range(2, ndim), 1, 0) if path[-1] == 'kernel' else tuple(range(ndim))


def _variable_shapes(module: Any, input_shape: tuple[int, ...]) -> dict[FlatPath, tuple[int, ...]]:
  """Flat path -> shape of every variable `module.init` creates for an input of `input_shape`, without computing."""
  shapes = jax.eval_shape(module.init, jax.random.key(0), jax.ShapeDtypeStruct(input_shape, np.float32))
  return {path: leaf.shape for path, leaf in traverse_util.flatten_dict(shapes).items()}


def _torch_keys(paths: Sequence[FlatPath], torch_module: Callable[[str], str]) -> dict[str, FlatPath]:
  """Torch state-dict key -> flax path, given the torch module name of each flax module path ('a/b')."""
  return {f'{torch_module("/".join(path[1:-1]))}.{_TORCH_LEAF_NAMES[path[0], path[-1]]}': path for path in paths}


def _variables_from_torch(
  state: Mapping[str, Any],
  shapes: Mapping[FlatPath, tuple[int, ...]],
  keys: Mapping[str, FlatPath],
  ignore: Callable[[str], bool],
  target: str,
  hint: str = '',
) -> dict[str, Any]:
  """Fills `shapes` from `state` (float32, flax layout); one ValueError lists every missing, unknown or bad key."""
  flat, missing, wrong_shapes = {}, [], []
  for key, path in keys.items():
    if key not in state:
      missing.append(key)
      continue
    value = state[key]
    expected = tuple(shapes[path][axis] for axis in np.argsort(_flax_axes(path, len(shapes[path]))))
    if not hasattr(value, 'shape'):
      wrong_shapes.append(f'{key} is a {type(value).__name__}, expected a tensor of shape {expected}')
    elif tuple(value.shape) != expected:
      wrong_shapes.append(f'{key} has shape {tuple(value.shape)}, expected {expected}')
    else:
      flat[path] = np.ascontiguousarray(np.asarray(value, np.float32).transpose(_flax_axes(path, value.ndim)))
  unknown = [key for key in state if key not in keys and not ignore(key)]
  problems = [
    f'  {what} ({len(names)}): {", ".join(names)}'
    for what, names in (('missing keys', missing), ('unknown keys', unknown), ('wrong shapes', wrong_shapes))
    if names
  ]
  if problems:
    raise ValueError('\n'.join([f'The state dict does not fit {target}:', *problems, *([hint] if hint else [])]))
  return traverse_util.unflatten_dict(flat)


def _variables_to_torch(
  variables: Any, shapes: Mapping[FlatPath, tuple[int, ...]], keys: Mapping[str, FlatPath], target: str
) -> dict[str, np.ndarray]:
  """Torch state dict (float32, torch layout) of flax `variables`, which must have exactly the given shapes."""
  flat = {path: np.asarray(value, np.float32) for path, value in traverse_util.flatten_dict(variables).items()}
  given = {path: value.shape for path, value in flat.items()}
  if given != dict(shapes):
    mismatched = sorted('/'.join(p) for p in set(given) | set(shapes) if given.get(p) != shapes.get(p))
    raise ValueError(f'The variables do not fit {target}; these differ in presence or shape: {", ".join(mismatched)}.')
  return {
    key: np.ascontiguousarray(flat[path].transpose(np.argsort(_flax_axes(path, flat[path].ndim))))
    for key, path in keys.items()
  }


def _unwrap(state: Any, params_key: str | None) -> dict[str, Any]:
  """The state dict inside a BasicSR `{'params', 'params_ema'}` checkpoint (or `state` itself), `module.` removed."""
  if not isinstance(state, Mapping):
    raise ValueError(f'Expected a state dict (a mapping of names to tensors), got a {type(state).__name__}.')
  wrapped = [key for key in WRAPPER_KEYS if isinstance(state.get(key), Mapping)]
  if params_key is not None:
    if params_key not in wrapped:
      raise ValueError(
        f'No {params_key!r} state dict in the checkpoint; it holds '
        f'{" and ".join(map(repr, wrapped)) if wrapped else "a plain state dict"}. '
        f'Leave the params key unset to pick one automatically.'
      )
    state = state[params_key]
  elif wrapped:
    state = state[wrapped[0]]
  not_names = [key for key in state if not isinstance(key, str)]
  if not_names:
    raise ValueError(
      f'The state dict has keys that are not names ({", ".join(map(repr, not_names[:3]))}); expected parameter '
      'names such as conv_first.weight, as torch.save(model.state_dict()) writes them.'
    )
  return {key.removeprefix('module.'): value for key, value in state.items()}


def _dim(state: Mapping[str, Any], key: str, axis: int, default: int) -> int:
  """state[key].shape[axis] for a conv weight, else `default` (the missing key is reported later)."""
  value = state.get(key)
  return value.shape[axis] if getattr(value, 'ndim', 0) == 4 else default


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


def _named_keys(keys: Sequence[str], scheme: str) -> int:
  """How many of `keys` a generator scheme (a GENERATOR_SCHEMES name or 'MSRResNet') names."""
  if scheme == 'MSRResNet':
    return sum(bool(_MSRRESNET_KEY.fullmatch(key)) for key in keys)
  names = '|'.join(map(_template_regex, GENERATOR_SCHEMES[scheme].values()))
  pattern = re.compile(rf'(?:{names})\.(?:weight|bias)')
  return sum(bool(pattern.fullmatch(key)) for key in keys)


def _is_candidate(keys: Sequence[str], scheme: str) -> bool:
  """Whether the keys hold what only this family has: an RDB conv (RRDBNet schemes), conv_first with upconv1
  (MSRResNet), or nothing but body.{i} convs and slopes (SRVGGNetCompact)."""
  if scheme == 'SRVGGNetCompact':
    return 'body.0.weight' in keys and all(_COMPACT_KEY.fullmatch(key) for key in keys)
  if scheme == 'MSRResNet':
    return {'conv_first.weight', 'upconv1.weight'} <= set(keys)
  return _num_blocks(keys, scheme) > 0


def detect_generator_scheme(state: Mapping[str, Any]) -> str:
  """The key scheme of an unwrapped generator state dict: a `GENERATOR_SCHEMES` name (RRDBNet), 'MSRResNet' or
  'SRVGGNetCompact'. Raises ValueError naming the architecture of a family we recognise but cannot run, or some of
  the keys and the supported families when nothing fits."""
  keys = list(state)
  candidates = [s for s in (*GENERATOR_SCHEMES, 'MSRResNet', 'SRVGGNetCompact') if _is_candidate(keys, s)]
  if 'SRVGGNetCompact' in candidates:
    return 'SRVGGNetCompact'
  if candidates:
    return max(candidates, key=lambda scheme: _named_keys(keys, scheme))  # BasicSR wins ties
  family = families.unsupported_family(keys)
  if family:
    raise ValueError(
      f'This is a {family} model, an architecture esrgan_jax recognises but cannot run. {_GENERATOR_HINT}'
    )
  shown = ', '.join(keys[:6]) + (f', ... ({len(keys)} keys)' if len(keys) > 6 else '')
  raise ValueError(f'Unknown architecture: no generator family fits the keys {shown or "(none)"}. {_GENERATOR_HINT}')


def torch_scheme(module: Generator) -> str:
  """The key scheme `generator_to_torch` writes: BasicSR names, except ESRGAN+ in its own numbered scheme (the one
  spandrel recognises) and SRVGGNetCompact in Real-ESRGAN's."""
  if isinstance(module, SRVGGNetCompact):
    return 'SRVGGNetCompact'
  if isinstance(module, MSRResNet):
    return 'MSRResNet'
  return 'ESRGAN-old' if module.esrgan_plus else 'BasicSR'


def _generator_torch_module(module: Generator, scheme: str) -> Callable[[str], str]:
  """Flax module path of a generator ('conv_first', 'body_3/rdb1/conv2', 'conv_up3', 'body_3/conv1', 'body_5', ...)
  -> its torch name in `scheme` (MSRResNet and SRVGGNetCompact have one naming each: `body.3.conv1`, `body.5`)."""
  if not isinstance(module, RRDBNet):
    return lambda flax_module: re.sub(r'^body_(\d+)', r'body.\1', flax_module).replace('/', '.')
  names = GENERATOR_SCHEMES[scheme]
  indices = _layer_indices(module.num_block, module.upsample_stages)

  def torch_module(flax_module: str) -> str:
    if rdb := _FLAX_RDB_CONV.fullmatch(flax_module):
      return names['rdb_plus' if rdb['j'] == '1x1' else 'rdb'].format(**rdb.groupdict())
    if up := _FLAX_CONV_UP.fullmatch(flax_module):
      return names['conv_up'].format(n=up['n'], up_index=3 * int(up['n']))
    return names[flax_module].format(**indices)

  return torch_module


def describe_generator(module: Generator) -> str:
  if isinstance(module, SRVGGNetCompact):
    return (
      f'SRVGGNetCompact(scale {module.scale}, {module.num_conv} convs, num_feat {module.num_feat}, '
      f'act {module.act_type}, {module.num_in_ch}->{module.num_out_ch} channels)'
    )
  widths = f'num_feat {module.num_feat}'
  extra = ''
  if isinstance(module, RRDBNet):
    widths += f', num_grow_ch {module.num_grow_ch}'
    extra += f', {module.upsample_stages} x2 upsamplings' if module.num_upsample is not None else ''
    extra += ', ESRGAN+' if module.esrgan_plus else ''
  return (
    f'{type(module).__name__}(scale {module.scale}, {module.num_block} blocks, {widths}, '
    f'{module.num_in_ch}->{module.num_out_ch} channels{extra})'
  )


def _infer_msrresnet(state: Mapping[str, Any]) -> MSRResNet:
  """MSRResNet of an unwrapped BasicSR state dict: x4 with upconv2, else x2 or x3 from upconv1's out-channels
  (num_feat * scale**2); x4 when neither fits (the error then names upconv1/upconv2)."""
  num_feat = _dim(state, 'conv_first.weight', 0, 64)
  up_ratio, remainder = divmod(_dim(state, 'upconv1.weight', 0, 4 * num_feat), num_feat)
  scale = 4 if 'upconv2.weight' in state or remainder else {4: 2, 9: 3}.get(up_ratio, 4)
  blocks = [int(m[2]) for m in map(_MSRRESNET_KEY.fullmatch, state) if m and m[2]]
  return MSRResNet(
    num_in_ch=_dim(state, 'conv_first.weight', 1, 3),
    num_out_ch=_dim(state, 'conv_last.weight', 0, 3),
    scale=scale,
    num_feat=num_feat,
    num_block=1 + max(blocks, default=-1),
  )


def _infer_rrdbnet(state: Mapping[str, Any], scheme: str) -> RRDBNet:
  """RRDBNet of an unwrapped state dict in `scheme`: N x2 upsamplings from the keys; the input is pixel-unshuffled
  by f = 2 or 4 when conv_first's in-channels are f*f times conv_last's out-channels and 2**N is a multiple of f
  (Real-ESRGAN's x2/x1), and the scale is 2**N / f. Otherwise in- and out-channels are read as they are."""
  keys = list(state)
  names, num_block, stages = GENERATOR_SCHEMES[scheme], _num_blocks(keys, scheme), _num_upsample(keys, scheme)
  indices = _layer_indices(num_block, stages)
  num_out_ch = _dim(state, names['conv_last'].format(**indices) + '.weight', 0, 3)
  first_in_ch = _dim(state, names['conv_first'] + '.weight', 1, num_out_ch)
  factor = {4: 2, 16: 4}.get(first_in_ch // num_out_ch, 1) if first_in_ch % num_out_ch == 0 else 1
  factor = factor if 2**stages % factor == 0 else 1
  scale = 2**stages // factor
  return RRDBNet(
    num_in_ch=first_in_ch // factor**2,
    num_out_ch=num_out_ch,
    scale=scale,
    num_block=num_block,
    num_feat=_dim(state, names['conv_first'] + '.weight', 0, 64),
    num_grow_ch=_dim(state, names['rdb'].format(i=0, k=1, j=1) + '.weight', 0, 32),
    num_upsample=None if stages == default_num_upsample(scale) else stages,
    esrgan_plus=any(re.fullmatch(_template_regex(names['rdb_plus']) + r'\.weight', key) for key in keys),
  )


def _infer_compact(state: Mapping[str, Any]) -> SRVGGNetCompact:
  """SRVGGNetCompact of Real-ESRGAN's keys: num_conv from the last body index (2 * num_conv + 2), the scale from its
  out-channels (num_in_ch * scale**2). PReLU slopes at body.1 say act_type 'prelu'; ReLU and LeakyReLU leave no
  weights, so they cannot be told apart and are refused."""
  last = max(int(m[1]) for m in map(_COMPACT_KEY.fullmatch, state) if m)
  num_in_ch = _dim(state, 'body.0.weight', 1, 3)
  out_ch = _dim(state, f'body.{last}.weight', 0, num_in_ch)
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
    num_feat=_dim(state, 'body.0.weight', 0, 64),
    num_conv=max(0, (last - 2) // 2),
    act_type='prelu',
  )


def generator_from_torch_with_scheme(state: Mapping, params_key: str | None) -> tuple[str, Generator, Any]:
  state = _unwrap(state, params_key)
  scheme = detect_generator_scheme(state)
  if scheme == 'SRVGGNetCompact':
    module = _infer_compact(state)
  else:
    module = _infer_msrresnet(state) if scheme == 'MSRResNet' else _infer_rrdbnet(state, scheme)
  shapes = _variable_shapes(module, (1, 4, 4, module.num_in_ch))
  keys = _torch_keys(list(shapes), _generator_torch_module(module, scheme))
  variables = _variables_from_torch(
    state, shapes, keys, lambda key: False, f'{describe_generator(module)} in {scheme} key names', _GENERATOR_HINT
  )
  return scheme, module, variables['params']


def generator_from_torch(state: Mapping, params_key: str | None = None) -> tuple[Generator, Any]:
  """(RRDBNet, MSRResNet or SRVGGNetCompact, params) from a generator state dict as `torch_io.load_state_dict`
  returns it.

  Accepts the three RRDBNet `GENERATOR_SCHEMES` (any block count, widths, 1-16x, ESRGAN+), BasicSR's MSRResNet and
  Real-ESRGAN's SRVGGNetCompact names, a BasicSR `{'params', 'params_ema'}` wrapper (`params_ema` is preferred unless
  `params_key` names one) and a `module.` prefix. The architecture is inferred. Raises ValueError listing every
  missing, unknown and wrongly shaped key, or naming an architecture that is not supported.
  """
  _, module, params = generator_from_torch_with_scheme(state, params_key)
  return module, params


def generator_to_torch(module: Generator, params: Any) -> dict[str, np.ndarray]:
  """State dict (float32 arrays, torch layout) of a BN-free generator's params, in `torch_scheme(module)` names."""
  shapes = _variable_shapes(module, (1, 4, 4, module.num_in_ch))
  keys = _torch_keys(list(shapes), _generator_torch_module(module, torch_scheme(module)))
  return _variables_to_torch({'params': params}, shapes, keys, describe_generator(module))


def describe_discriminator(module: VGGStyleDiscriminator) -> str:
  return f'VGGStyleDiscriminator(input_size {module.input_size}, num_feat {module.num_feat})'


def _discriminator_shapes(module: VGGStyleDiscriminator) -> dict[FlatPath, tuple[int, ...]]:
  return _variable_shapes(module, (1, module.input_size, module.input_size, module.num_in_ch))


def _same_torch_module(flax_module: str) -> str:
  return flax_module  # BasicSR's discriminator and ESRGAN's MINCNet name their modules as we do: conv0_0, conv11, ...


def discriminator_from_torch(state: Mapping, params_key: str | None = None) -> tuple[VGGStyleDiscriminator, Any]:
  """(VGGStyleDiscriminator, {'params', 'batch_stats'}) from BasicSR's discriminator state dict.

  BN running mean/var become `batch_stats` (`num_batches_tracked` is ignored); input_size is 256 when conv5_* is
  present, else 128. Unwraps like `generator_from_torch`; raises ValueError listing every bad key.
  """
  state = _unwrap(state, params_key)
  module = VGGStyleDiscriminator(
    num_in_ch=_dim(state, 'conv0_0.weight', 1, 3),
    num_feat=_dim(state, 'conv0_0.weight', 0, 64),
    input_size=256 if any(key.startswith('conv5_') for key in state) else 128,
  )
  shapes = _discriminator_shapes(module)
  keys = _torch_keys(list(shapes), _same_torch_module)
  return module, _variables_from_torch(
    state, shapes, keys, lambda key: key.endswith('.num_batches_tracked'), describe_discriminator(module)
  )


def discriminator_to_torch(module: VGGStyleDiscriminator, variables: Any) -> dict[str, np.ndarray]:
  """BasicSR-named state dict of a discriminator's {'params', 'batch_stats'}; num_batches_tracked is written as 0."""
  shapes = _discriminator_shapes(module)
  state = _variables_to_torch(
    variables, shapes, _torch_keys(list(shapes), _same_torch_module), describe_discriminator(module)
  )
  for key in [k for k in state if k.endswith('.running_mean')]:
    state[key.replace('.running_mean', '.num_batches_tracked')] = np.array(0, np.int64)
  return state


def _torchvision_vgg19_module(flax_module: str) -> str:
  """'conv5_4' -> 'features.34': its VGG19_LAYERS index plus one max-pool per earlier stage."""
  return f'features.{VGG19_LAYERS.index(flax_module) + int(flax_module[4]) - 1}'


def vgg19_from_torch(state: Mapping) -> Any:
  """`VGG19Features` params from torchvision's vgg19 state dict (`features.N.weight/bias`; `classifier.*` ignored)."""
  state = _unwrap(state, None)
  shapes = _variable_shapes(VGG19Features(), (1, 16, 16, 3))
  keys = _torch_keys(list(shapes), _torchvision_vgg19_module)
  return _variables_from_torch(
    state, shapes, keys, lambda key: key.startswith('classifier.'), "torchvision's vgg19 (features.N)"
  )['params']


def minc_from_torch(state: Mapping) -> Any:
  """`MINCNet` params from ESRGAN's `VGG16minc_53.pth` (`conv11.weight` ... `conv53.bias`, torch OIHW)."""
  state = _unwrap(state, None)
  shapes = _variable_shapes(MINCNet(), (1, 16, 16, 3))
  keys = _torch_keys(list(shapes), _same_torch_module)
  return _variables_from_torch(state, shapes, keys, lambda key: False, "ESRGAN's MINCNet (conv11 .. conv53)")['params']
