"""Folds eval-mode BatchNorm layers into the convs before them, so a BN generator runs as its BN-free twin.

BatchNorm `.../bn{j}` follows `.../conv{j}` in RRDBNet and MSRResNet with `use_bn=True`. In eval mode it is the
affine map `y = (z - mean) * s + beta` with `s = gamma / sqrt(var + eps)`, so `conv{j}` with kernel `k * s` (per output
channel) and bias `(b - mean) * s + beta` computes the same.
"""

import re
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import numpy as np

from esrgan_jax.models.layers import BN_EPSILON

_BN_NAME = re.compile(r'bn(\d+)')


def _folded_conv(conv: Mapping[str, Any], bn: Mapping[str, Any], stats: Mapping[str, Any]) -> dict[str, np.ndarray]:
  """{'kernel', 'bias'} of a conv (kernel [k, k, Cin, Cout]) followed by an eval-mode BatchNorm over Cout."""
  kernel, bias = np.asarray(conv['kernel']), np.asarray(conv['bias'])
  scale = np.asarray(bn['scale'], np.float64) / np.sqrt(np.asarray(stats['var'], np.float64) + BN_EPSILON)
  shift = np.asarray(bn['bias'], np.float64) - np.asarray(stats['mean'], np.float64) * scale
  return {'kernel': (kernel * scale).astype(kernel.dtype), 'bias': (bias * scale + shift).astype(bias.dtype)}


def _fold_tree(params: Mapping[str, Any], stats: Mapping[str, Any], path: str) -> dict[str, Any]:
  """Copy of the params subtree `params` (batch_stats subtree `stats`) with every `bn{j}` folded into `conv{j}`."""
  for name in params:
    bn = _BN_NAME.fullmatch(name)
    if bn and (f'conv{bn[1]}' not in params or name not in stats):
      raise ValueError(f'Cannot fold {path}{name}: no {path}conv{bn[1]} before it, or no batch_stats for it.')
  folded = {}
  for name, value in params.items():
    bn = f'bn{name.removeprefix("conv")}'
    if _BN_NAME.fullmatch(name):
      continue  # folded into its conv
    if name.startswith('conv') and bn in params:
      folded[name] = _folded_conv(value, params[bn], stats[bn])
    elif isinstance(value, Mapping):
      folded[name] = _fold_tree(value, stats.get(name, {}), f'{path}{name}/')
    else:
      folded[name] = np.asarray(value)
  return folded


def fold_batch_norm(module: nn.Module, variables: dict[str, Any]) -> tuple[nn.Module, Any]:
  """(module without BN, its params) computing what `module.apply(variables, x, train=False)` computes.

  `module` is an RRDBNet or MSRResNet; with `use_bn=True`, `variables` holds 'params' and 'batch_stats' and the
  result is `module.clone(use_bn=False)` (same dtype) with numpy params in the BN-free layout. A module without BN
  (or without a `use_bn` field, like SRVGGNetCompact) comes back unchanged with `variables['params']`.
  """
  if not getattr(module, 'use_bn', False):
    return module, variables['params']
  if 'batch_stats' not in variables:
    raise ValueError(
      f'{type(module).__name__} has BatchNorm layers, so folding needs variables["batch_stats"] '
      '(the running statistics) next to variables["params"].'
    )
  return module.clone(use_bn=False), _fold_tree(variables['params'], variables['batch_stats'], '')
