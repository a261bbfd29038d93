"""LPIPS weights: torchvision's ImageNet backbone plus the `lpips` package's linear layers -> one model file.

LPIPS v0.1 needs two official files per backbone: torchvision's state dict (`features.N.weight/bias`; `classifier.*`
ignored) and the package's linear-layer file `lpips/weights/v0.1/{alex,vgg}.pth` (`lin0.model.1.weight` ...
`lin4.model.1.weight`, each [1, C, 1, 1]). `python -m esrgan_jax.convert lpips` merges them into `lpips_{net}.msgpack`
(arch `LPIPS`, config {'net'}), by default in `esrgan_jax.weights.locations.weights_dir()`. See third_party/lpips.
"""

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from esrgan_jax.models.lpips import LPIPS, MIN_SIZE, VGG16_STAGES
from esrgan_jax.weights import model_io
from esrgan_jax.weights.locations import weights_file
from esrgan_jax.weights.official_files import LPIPS_FILES, LpipsFiles
from esrgan_jax.weights.torch_layout import torch_keys, unwrap, variable_shapes, variables_from_torch

_LINEAR_KEY = re.compile(r'lin\d\.model\.1\.weight')


def files(net: str) -> LpipsFiles:
  """The official and converted files of backbone `net`; ValueError naming the choices otherwise."""
  if net not in LPIPS_FILES:
    raise ValueError(f'Unknown LPIPS backbone {net!r}; choose one of {", ".join(LPIPS_FILES)}.')
  return LPIPS_FILES[net]


def torchvision_index(net: str, conv: str) -> int:
  """Index in torchvision's `features` of a backbone conv: two entries (conv, ReLU) per earlier conv plus the
  max-pools before it. 'conv3' (alex) -> 6, 'conv2_1' (vgg) -> 5."""
  if net == 'alex':
    k = int(conv.removeprefix('conv'))
    return 2 * (k - 1) + min(k - 1, 2)
  s, i = map(int, conv.removeprefix('conv').split('_'))
  return 2 * (sum(n for _, n in VGG16_STAGES[: s - 1]) + i - 1) + s - 1


def _torch_module(net: str, flax_module: str) -> str:
  """'backbone/conv2' -> 'features.3'; 'lin0' -> 'lin0.model.1' (the package's Dropout is model.0)."""
  if flax_module.startswith('backbone/'):
    return f'features.{torchvision_index(net, flax_module.removeprefix("backbone/"))}'
  return f'{flax_module}.model.1'


def lpips_from_torch(net: str, backbone: Mapping, linear: Mapping) -> Any:
  """`LPIPS(net)` params from torchvision's state dict (`backbone`) and the lpips package's linear layers (`linear`).

  ValueError when a file is the other kind, or does not fit `net` (every bad key is listed).
  """
  row = files(net)
  backbone, linear = unwrap(backbone, None), unwrap(linear, None)
  if not any(key.startswith('features.') for key in backbone):
    raise ValueError(
      f"The backbone file has no features.N keys; expected torchvision's {row.torchvision_model} ({row.backbone})."
    )
  if not linear or not all(_LINEAR_KEY.fullmatch(key) for key in linear):
    raise ValueError(
      f"The linear-layer file should hold only lin0.model.1.weight ... lin4.model.1.weight (the lpips wheel's "
      f'{row.linear}), got {", ".join(sorted(linear)[:4]) or "nothing"}.'
    )
  size = MIN_SIZE[net]
  shapes = variable_shapes(LPIPS(net), (1, size, size, 3), (1, size, size, 3))
  keys = torch_keys(list(shapes), lambda module: _torch_module(net, module))
  return variables_from_torch(
    {**backbone, **linear},
    shapes,
    keys,
    lambda key: key.startswith('classifier.'),
    f"LPIPS ({net}): torchvision's {row.torchvision_model} features.N and lin0..lin4 of {row.linear}",
    f'Check --net: {row.backbone} goes with {row.linear}.',
  )['params']


def weights_path(net: str, given: str | os.PathLike | None = None) -> Path:
  """`given`, else the converted file of backbone `net` in the weights directory."""
  return weights_file(files(net).converted, given)


def convert_command(net: str, output: str | os.PathLike | None = None) -> str:
  """The command that writes the LPIPS file of `net` (to `output`, else the default location)."""
  row = files(net)
  return (
    f'python -m esrgan_jax.convert lpips --net {net} --backbone {row.backbone} --linear {Path(row.linear).name}'
    + (f' {output}' if output else '')
  )


def find_lpips_file(path: str | os.PathLike) -> Path:
  """The LPIPS weights file `path` names: a file, or a backbone name ('alex' or 'vgg') meaning its converted file in
  the weights directory. FileNotFoundError names the command that writes it."""
  net = str(path) if str(path) in LPIPS_FILES and not Path(path).exists() else None
  path = weights_path(net) if net else Path(path).expanduser()
  if not path.is_file():
    how = convert_command(net, path) if net else f'{convert_command("alex", path)} (or --net vgg)'
    raise FileNotFoundError(f'LPIPS weights not found at {path}. Convert them once with: {how}')
  return path


def load_lpips(path: str | os.PathLike) -> tuple[LPIPS, Any]:
  """(LPIPS module, params) from a file written by `python -m esrgan_jax.convert lpips` (`path` as `find_lpips_file`
  takes it)."""
  path = find_lpips_file(path)
  arch, config, variables = model_io.load_model(path)
  if arch != 'LPIPS':
    raise ValueError(f'{path} holds a {arch}, not LPIPS weights.')
  return LPIPS(**config), variables['params']
