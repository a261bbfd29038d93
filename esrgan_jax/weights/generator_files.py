"""Loads a generator from whatever file a user has: our model file, or a PyTorch `.pth` / `.safetensors` state dict
converted on the fly."""

import os
from pathlib import Path
from typing import Any

import flax.linen as nn

from esrgan_jax.weights import model_io
from esrgan_jax.weights.state_dict_files import read_state_dict
from esrgan_jax.weights.state_dicts import generator_from_torch

STATE_DICT_SUFFIXES = ('.pth', '.pt', '.ckpt', '.safetensors')


def load_any_generator(path: str | os.PathLike, dtype: Any = None) -> tuple[nn.Module, Any]:
  """(generator, params) from an esrgan_jax model file or a PyTorch state dict (`STATE_DICT_SUFFIXES`, any supported
  family and key scheme, read without torch); `dtype` sets the compute dtype. Raises FileNotFoundError or ValueError
  saying what does not fit."""
  if Path(path).suffix.lower() not in STATE_DICT_SUFFIXES:
    return model_io.load_generator(path, dtype)
  module, params = generator_from_torch(read_state_dict(path))
  return module.clone(dtype=dtype), params
