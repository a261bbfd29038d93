"""Converts between PyTorch state dicts (numpy arrays from `esrgan_jax.weights.torch_io`) and our flax variables.

RRDBNet generators come in three key schemes (`GENERATOR_SCHEMES`): BasicSR / Real-ESRGAN, the ESRGAN repo of 2019
and the oldest `model.N` Sequential one; BasicSR's MSRResNet (SRResNet) is recognised by its keys too. Either may be
wrapped as BasicSR's `{'params': sd, 'params_ema': sd}` and/or carry DataParallel's `module.` prefix. The
architecture (block count, widths, scale) is inferred from the keys and shapes. Also: BasicSR's discriminator,
torchvision's VGG19 and ESRGAN's MINCNet.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from flax import traverse_util

from esrgan_jax.models.discriminator import VGGStyleDiscriminator
from esrgan_jax.models.minc import MINCNet
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.models.srresnet import MSRResNet
from esrgan_jax.models.vgg import VGG19_LAYERS, VGG19Features

# Torch module name of each RRDBNet part per key scheme. `rdb` is conv{j} of RDB {k} (1-3) of RRDB block {i};
# {num_block} is the block count (the oldest scheme numbers the trunk conv after the last block).
GENERATOR_SCHEMES = {
  'BasicSR': dict(
    conv_first='conv_first',
    rdb='body.{i}.rdb{k}.conv{j}',
    conv_body='conv_body',
    conv_up1='conv_up1',
    conv_up2='conv_up2',
    conv_hr='conv_hr',
    conv_last='conv_last',
  ),
  'ESRGAN': dict(
    conv_first='conv_first',
    rdb='RRDB_trunk.{i}.RDB{k}.conv{j}',
    conv_body='trunk_conv',
    conv_up1='upconv1',
    conv_up2='upconv2',
    conv_hr='HRconv',
    conv_last='conv_last',
  ),
  'ESRGAN-old': dict(
    conv_first='model.0',
    rdb='model.1.sub.{i}.RDB{k}.conv{j}.0',
    conv_body='model.1.sub.{num_block}',
    conv_up1='model.3',
    conv_up2='model.6',
    conv_hr='model.8',
    conv_last='model.10',
  ),
}
# BasicSR's MSRResNet: conv_first, body.{i}.conv{1,2}, upconv1 (and upconv2 at x4), conv_hr, conv_last.
_MSRRESNET_KEY = re.compile(r'(conv_first|body\.(\d+)\.conv[12]|upconv[12]|conv_hr|conv_last)\.(weight|bias)')
# BasicSR checkpoint keys holding a state dict, in order of preference.
WRAPPER_KEYS = ('params_ema', 'params')
# Flax (collection, leaf name) -> torch parameter or buffer name.
_TORCH_LEAF_NAMES = {
  ('params', 'kernel'): 'weight',
  ('params', 'scale'): 'weight',
  ('params', 'bias'): 'bias',
  ('batch_stats', 'mean'): 'running_mean',
  ('batch_stats', 'var'): 'running_var',
}
_FLAX_RDB_CONV = re.compile(r'body_(?P<i>\d+)/rdb(?P<k>\d)/conv(?P<j>\d)')
_GENERATOR_HINT = (
  'Only ESRGAN/BasicSR/Real-ESRGAN RRDBNet generators (e.g. RRDB_ESRGAN_x4.pth, '
  "ESRGAN_SRx4_DF2KOST_official-ff704c30.pth, RealESRGAN_x4plus.pth) and BasicSR's MSRResNet "
  '(e.g. MSRResNet_x4.pth) are supported, not other architectures.'
)

FlatPath = tuple[str, ...]  # (collection, *module names, leaf name)


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
  return {key.removeprefix('module.'): value for key, value in state.items()}


def _dim(state: Mapping[str, Any], key: str, axis: int, default: int) -> int:
  """state[key].shape[axis] for a conv weight, else `default` (the missing key is reported later)."""
  value = state.get(key)
  return value.shape[axis] if getattr(value, 'ndim', 0) == 4 else default


def _rdb_key_pattern(template: str) -> re.Pattern:
  """Matches the keys of any RDB conv in a scheme; group 1 is the RRDB block index."""
  return re.compile(template.replace('.', r'\.').format(i=r'(\d+)', k=r'\d', j=r'\d') + r'\.')


def _num_blocks(keys: Sequence[str], scheme: str) -> int:
  pattern = _rdb_key_pattern(GENERATOR_SCHEMES[scheme]['rdb'])
  return 1 + max((int(m[1]) for m in map(pattern.match, keys) if m), default=-1)


def _detect_scheme(keys: Sequence[str]) -> str:
  """The RRDBNet scheme, or 'MSRResNet', that names the most of `keys` (BasicSR on a tie)."""

  def named_keys(scheme: str) -> int:
    if scheme == 'MSRResNet':
      return sum(bool(_MSRRESNET_KEY.fullmatch(key)) for key in keys)
    names = GENERATOR_SCHEMES[scheme]
    pattern = _rdb_key_pattern(names['rdb'])
    fixed = {names[part].format(num_block=_num_blocks(keys, scheme)) for part in names if part != 'rdb'}
    return sum(bool(pattern.match(key)) or key.rpartition('.')[0] in fixed for key in keys)

  return max((*GENERATOR_SCHEMES, 'MSRResNet'), key=named_keys)


def _generator_torch_module(module: RRDBNet | MSRResNet, scheme: str) -> Callable[[str], str]:
  """Flax module path of a generator ('conv_first', 'body_3/rdb1/conv2', 'body_3/conv1', ...) -> its torch name in
  `scheme` (MSRResNet has BasicSR's names only: `body.3.conv1`)."""
  if isinstance(module, MSRResNet):
    return lambda flax_module: re.sub(r'^body_(\d+)/', r'body.\1.', flax_module)
  names = GENERATOR_SCHEMES[scheme]

  def torch_module(flax_module: str) -> str:
    rdb = _FLAX_RDB_CONV.fullmatch(flax_module)
    return names['rdb'].format(**rdb.groupdict()) if rdb else names[flax_module].format(num_block=module.num_block)

  return torch_module


def describe_generator(module: RRDBNet | MSRResNet) -> str:
  widths = f'num_feat {module.num_feat}'
  if isinstance(module, RRDBNet):
    widths += f', num_grow_ch {module.num_grow_ch}'
  return (
    f'{type(module).__name__}(scale {module.scale}, {module.num_block} blocks, {widths}, '
    f'{module.num_in_ch}->{module.num_out_ch} channels)'
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
  """RRDBNet of an unwrapped state dict in `scheme`. Input and output channel counts are equal unless conv_first's
  in-channels are not 1x, 4x or 16x conv_last's out-channels (scale 4, 2, 1); then the scale is 4."""
  names, num_block = GENERATOR_SCHEMES[scheme], _num_blocks(list(state), scheme)
  num_out_ch = _dim(state, f'{names["conv_last"]}.weight', 0, 3)
  first_in_ch = _dim(state, f'{names["conv_first"]}.weight', 1, num_out_ch)
  scale = {1: 4, 4: 2, 16: 1}.get(first_in_ch // num_out_ch) if first_in_ch % num_out_ch == 0 else None
  num_in_ch, scale = (num_out_ch, scale) if scale else (first_in_ch, 4)
  return RRDBNet(
    num_in_ch=num_in_ch,
    num_out_ch=num_out_ch,
    scale=scale,
    num_block=num_block,
    num_feat=_dim(state, f'{names["conv_first"]}.weight', 0, 64),
    num_grow_ch=_dim(state, names['rdb'].format(i=0, k=1, j=1) + '.weight', 0, 32),
  )


def generator_from_torch_with_scheme(state: Mapping, params_key: str | None) -> tuple[str, RRDBNet | MSRResNet, Any]:
  state = _unwrap(state, params_key)
  scheme = _detect_scheme(list(state))
  module = _infer_msrresnet(state) if scheme == 'MSRResNet' else _infer_rrdbnet(state, scheme)
  shapes = _variable_shapes(module, (1, 4, 4, module.num_in_ch))
  keys = _torch_keys(list(shapes), _generator_torch_module(module, scheme))
  variables = _variables_from_torch(
    state, shapes, keys, lambda key: False, f'{describe_generator(module)} in {scheme} key names', _GENERATOR_HINT
  )
  return scheme, module, variables['params']


def generator_from_torch(state: Mapping, params_key: str | None = None) -> tuple[RRDBNet | MSRResNet, Any]:
  """(RRDBNet or MSRResNet, params) from a generator state dict as `torch_io.load_state_dict` returns it.

  Accepts the three `GENERATOR_SCHEMES` and BasicSR's MSRResNet names, a BasicSR `{'params', 'params_ema'}` wrapper
  (`params_ema` is preferred unless `params_key` names one) and a `module.` prefix. Block count, widths and scale are
  inferred. Raises ValueError listing every missing, unknown and wrongly shaped key.
  """
  _, module, params = generator_from_torch_with_scheme(state, params_key)
  return module, params


def generator_to_torch(module: RRDBNet | MSRResNet, params: Any) -> dict[str, np.ndarray]:
  """BasicSR-named state dict (float32 arrays, torch layout) of a BN-free RRDBNet's or MSRResNet's params."""
  shapes = _variable_shapes(module, (1, 4, 4, module.num_in_ch))
  keys = _torch_keys(list(shapes), _generator_torch_module(module, 'BasicSR'))
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
