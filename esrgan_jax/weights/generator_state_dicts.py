"""Generator state dicts of any supported family <-> our generator modules and params.

The family and key scheme are recognised by the keys (`detect_generator_scheme`): RRDBNet in its three
`rrdbnet_state_dict.GENERATOR_SCHEMES`, BasicSR's MSRResNet and Real-ESRGAN's SRVGGNetCompact. Any may be wrapped as
BasicSR's `{'params': sd, 'params_ema': sd}` and/or carry DataParallel's `module.` prefix. The architecture is
inferred from the keys and shapes by the family's module; `torch_layout` maps the variables.
"""

import dataclasses
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.models.srresnet import MSRResNet
from esrgan_jax.models.srvgg import SRVGGNetCompact
from esrgan_jax.weights import families, rrdbnet_state_dict, srresnet_state_dict, srvgg_state_dict, torch_layout
from esrgan_jax.weights.rrdbnet_state_dict import GENERATOR_SCHEMES
from esrgan_jax.weights.torch_layout import FlatPath

SUPPORTED_FAMILIES = (
  'RRDBNet (ESRGAN, BasicSR, Real-ESRGAN, BSRGAN/RealSR and ESRGAN+ key names, x1-x16), '
  "BasicSR's MSRResNet and Real-ESRGAN's SRVGGNetCompact"
)
_GENERATOR_HINT = (
  f'Supported generator families: {SUPPORTED_FAMILIES} (e.g. RRDB_ESRGAN_x4.pth, RealESRGAN_x4plus.pth, '
  'MSRResNet_x4.pth, realesr-general-x4v3.pth).'
)

Generator = RRDBNet | MSRResNet | SRVGGNetCompact


@dataclasses.dataclass(frozen=True)
class _KeyScheme:
  """How a key scheme is recognised and read: its family module's functions, bound to the scheme."""

  is_candidate: Callable[[Sequence[str]], bool]  # whether the keys hold what only this family has
  named_keys: Callable[[Sequence[str]], int]  # how many of the keys the scheme names (breaks ties)
  infer: Callable[[Mapping[str, Any]], Generator]  # unwrapped state dict -> the generator module


def _rrdbnet_key_scheme(scheme: str) -> _KeyScheme:
  bind = lambda function: functools.partial(function, scheme=scheme)
  return _KeyScheme(
    bind(rrdbnet_state_dict.is_candidate), bind(rrdbnet_state_dict.named_keys), bind(rrdbnet_state_dict.infer)
  )


_KEY_SCHEMES = {  # in the order ties go: BasicSR first
  **{scheme: _rrdbnet_key_scheme(scheme) for scheme in GENERATOR_SCHEMES},
  'MSRResNet': _KeyScheme(srresnet_state_dict.is_candidate, srresnet_state_dict.named_keys, srresnet_state_dict.infer),
  'SRVGGNetCompact': _KeyScheme(srvgg_state_dict.is_candidate, srvgg_state_dict.named_keys, srvgg_state_dict.infer),
}
_FAMILIES = {RRDBNet: rrdbnet_state_dict, MSRResNet: srresnet_state_dict, SRVGGNetCompact: srvgg_state_dict}


def detect_generator_scheme(state: Mapping[str, Any]) -> str:
  """The key scheme of an unwrapped generator state dict: a `GENERATOR_SCHEMES` name (RRDBNet), 'MSRResNet' or
  'SRVGGNetCompact'. Raises ValueError naming the architecture of a family we recognise but cannot run, or some of
  the keys and the supported families when nothing fits."""
  keys = list(state)
  candidates = [scheme for scheme, key_scheme in _KEY_SCHEMES.items() if key_scheme.is_candidate(keys)]
  if 'SRVGGNetCompact' in candidates:
    return 'SRVGGNetCompact'
  if candidates:
    return max(candidates, key=lambda scheme: _KEY_SCHEMES[scheme].named_keys(keys))  # BasicSR wins ties
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
  return _FAMILIES[type(module)].torch_scheme(module)


def _body_torch_module(flax_module: str) -> str:
  """'body_3/conv1' -> 'body.3.conv1', 'body_5' -> 'body.5' (MSRResNet's and SRVGGNetCompact's one naming)."""
  return re.sub(r'^body_(\d+)', r'body.\1', flax_module).replace('/', '.')


def torch_module(module: Generator, scheme: str) -> Callable[[str], str]:
  """Flax module path of a generator -> its torch name in `scheme`."""
  return rrdbnet_state_dict.torch_module(module, scheme) if isinstance(module, RRDBNet) else _body_torch_module


def describe_generator(module: Generator) -> str:
  """One line naming the generator's family and architecture, e.g. 'RRDBNet(scale 4, 23 blocks, ...)'."""
  return _FAMILIES[type(module)].describe(module)


def _torch_keys(module: Generator, scheme: str) -> tuple[dict[FlatPath, tuple[int, ...]], dict[str, FlatPath]]:
  """(flat path -> shape, torch key -> flat path) of a generator's params in `scheme`."""
  shapes = torch_layout.variable_shapes(module, (1, 4, 4, module.num_in_ch))
  return shapes, torch_layout.torch_keys(list(shapes), torch_module(module, scheme))


def generator_from_torch_with_scheme(state: Mapping, params_key: str | None) -> tuple[str, Generator, Any]:
  """(key scheme, generator, params) of a generator state dict; see `generator_from_torch`."""
  state = torch_layout.unwrap(state, params_key)
  scheme = detect_generator_scheme(state)
  module = _KEY_SCHEMES[scheme].infer(state)
  shapes, keys = _torch_keys(module, scheme)
  variables = torch_layout.variables_from_torch(
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
  shapes, keys = _torch_keys(module, torch_scheme(module))
  return torch_layout.variables_to_torch({'params': params}, shapes, keys, describe_generator(module))
