"""DISTS weights: torchvision's ImageNet VGG16 plus the learned alpha/beta of the `dists-pytorch` wheel -> one file.

DISTS needs two files: torchvision's VGG16 state dict (`vgg16-397923af.pth`: `features.N.weight/bias`; `classifier.*`
ignored), which the user supplies, and the wheel's `DISTS_pytorch/weights.pt` ({'alpha', 'beta'}, each
[1, 1475, 1, 1]), found in the installed `dists-pytorch` package (`pip install --no-deps dists-pytorch==0.1`; never
imported, so torch is not needed) or given. `python -m esrgan_jax.convert dists` merges them into `dists.msgpack`
(arch `DISTS`), by default in `esrgan_jax.weights.locations.weights_dir()`, where `evaluate --metrics dists` and
training validation look for it.
"""

import importlib.metadata
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from esrgan_jax.models.dists import CHANNELS, DISTS, MIN_SIZE
from esrgan_jax.weights import model_io
from esrgan_jax.weights.locations import weights_file
from esrgan_jax.weights.lpips_weights import torchvision_index
from esrgan_jax.weights.official_files import DISTS_FILES
from esrgan_jax.weights.torch_layout import torch_keys, unwrap, variable_shapes, variables_from_torch


def package_weights() -> Path:
  """The alpha/beta file of the installed `dists-pytorch` wheel; FileNotFoundError naming the fixes otherwise."""
  package, weights = DISTS_FILES.package, DISTS_FILES.package_weights
  try:
    path = Path(importlib.metadata.distribution(package).locate_file(weights))
  except importlib.metadata.PackageNotFoundError:
    path = None
  if path is None or not path.is_file():
    raise FileNotFoundError(
      f'DISTS alpha/beta weights: {package} is not installed. `pip install --no-deps {package}==0.1` (20 kB; its '
      f'{weights} is read, the package is never imported, torch is not needed), or pass that weights.pt with '
      '--alpha-beta.'
    )
  return path


def dists_from_torch(backbone: Mapping, alpha_beta: Mapping) -> Any:
  """`DISTS` params from torchvision's VGG16 state dict (`backbone`) and the wheel's {'alpha', 'beta'}.

  ValueError when a file is the other kind or does not fit (every bad key is listed).
  """
  backbone, alpha_beta = unwrap(backbone, None), dict(alpha_beta)
  if not any(key.startswith('features.') for key in backbone):
    raise ValueError(
      f"The backbone file has no features.N keys; expected torchvision's vgg16 ({DISTS_FILES.backbone})."
    )
  expected = (1, sum(CHANNELS), 1, 1)
  if sorted(alpha_beta) != ['alpha', 'beta'] or any(np.shape(alpha_beta[k]) != expected for k in alpha_beta):
    shapes = {k: tuple(np.shape(v)) for k, v in alpha_beta.items()}
    raise ValueError(
      f"The alpha/beta file should hold alpha and beta of shape {expected} (the {DISTS_FILES.package} wheel's "
      f'{DISTS_FILES.package_weights}), got {shapes or "nothing"}.'
    )
  image = (1, MIN_SIZE, MIN_SIZE, 3)
  shapes = {path: shape for path, shape in variable_shapes(DISTS(), image, image).items() if path[1] == 'backbone'}
  keys = torch_keys(list(shapes), lambda module: f'features.{torchvision_index("vgg", module.split("/")[1])}')
  params = variables_from_torch(
    backbone,
    shapes,
    keys,
    lambda key: key.startswith('classifier.'),
    f"DISTS: torchvision's vgg16 features.N ({DISTS_FILES.backbone})",
  )['params']
  return {**params, **{k: np.asarray(v, np.float32).reshape(-1) for k, v in alpha_beta.items()}}


DEFAULT = 'default'  # names the converted file in the weights directory (`val_dists='default'`)


def weights_path(given: str | os.PathLike | None = None) -> Path:
  """`given`, else (None, '' or DEFAULT) the converted DISTS file in the weights directory."""
  return weights_file(DISTS_FILES.converted, None if given == DEFAULT else given)


def find_dists_file(path: str | os.PathLike | None = None) -> Path:
  """The DISTS weights file: `path`, else (None or DEFAULT) dists.msgpack in the weights directory.
  FileNotFoundError names the command that writes it."""
  path = weights_path(path)
  if not path.is_file():
    raise FileNotFoundError(
      f'DISTS weights not found at {path}. Convert them once with: python -m esrgan_jax.convert dists --backbone '
      f'{DISTS_FILES.backbone} (from {DISTS_FILES.backbone_url}; alpha/beta from the {DISTS_FILES.package} wheel)'
      + (f' {path}' if path != weights_path() else '')
    )
  return path


def load_dists(path: str | os.PathLike | None = None) -> tuple[DISTS, Any]:
  """(DISTS module, params) from a file written by `python -m esrgan_jax.convert dists` (default location if None)."""
  path = find_dists_file(path)
  arch, _, variables = model_io.load_model(path)
  if arch != 'DISTS':
    raise ValueError(f'{path} holds a {arch}, not DISTS weights.')
  return DISTS(), variables['params']
