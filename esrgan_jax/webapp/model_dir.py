"""The model files the app may read: the files of one folder, chosen by name, never by a path from the browser.

Every file `esrgan_jax.weights.generator_files.load_generator_file` reads counts (our `.msgpack` model files,
PyTorch `.pth`/`.pt`/`.ckpt` and `.safetensors` state dicts); sub-folders and other files are ignored.
"""

import functools
import os
import re
from pathlib import Path
from typing import Any

import flax.linen as nn

from esrgan_jax.weights.generator_files import STATE_DICT_SUFFIXES, load_generator_file

MODEL_SUFFIXES = ('.msgpack', *STATE_DICT_SUFFIXES)
# Pairs a folder's names suggest, (α = 0 model, α = 1 model): ESRGAN's PSNR and GAN generators, and Real-ESRGAN's
# weak-denoise twin of a Compact model (denoise strength 0) and the model itself (strength 1).
_PAIR_PATTERNS = ((re.compile('psnr', re.I), re.compile('gan|esrgan', re.I)), (re.compile('wdn', re.I), None))


class ModelDir:
  """The model files directly in `folder`, listed once; `load(name)` reads one (cached)."""

  def __init__(self, folder: str | os.PathLike):
    self.folder = Path(folder)
    if not self.folder.is_dir():
      raise FileNotFoundError(f'--models {self.folder} is not a folder; pass the folder that holds the model files.')
    self._paths = {
      p.name: p for p in sorted(self.folder.iterdir()) if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES
    }
    if not self._paths:
      raise FileNotFoundError(
        f'--models {self.folder} holds no model files ({", ".join(MODEL_SUFFIXES)}); convert or copy some there.'
      )

  @property
  def names(self) -> list[str]:
    """File names, sorted."""
    return list(self._paths)

  def path(self, name: str) -> Path:
    """The file of `name`; ValueError for any name that is not one of `names` (a path, '..', another file)."""
    if name not in self._paths:
      raise ValueError(f'{name!r} is not one of the model files in {self.folder}: {", ".join(self._paths)}.')
    return self._paths[name]

  def load(self, name: str) -> tuple[nn.Module, Any]:
    """(generator, params as numpy) of `name`; ValueError for a file that holds no usable generator."""
    path = self.path(name)
    return _load(path, path.stat().st_mtime_ns)

  def default_pair(self) -> tuple[str, str | None]:
    """The pair to show first: a PSNR/GAN or wdn/model pair the names suggest, else the first file alone."""
    names = self.names
    for low, high in _PAIR_PATTERNS:
      for a in (n for n in names if low.search(n)):
        rest = [n for n in names if n != a]
        if high is None:  # the twin without 'wdn': realesr-general-wdn-x4v3 -> realesr-general-x4v3
          twin = [n for n in rest if n == re.sub('[-_]?wdn', '', a, flags=re.I)]
        else:
          twin = [n for n in rest if high.search(n) and not low.search(n)]
        if twin:
          return a, twin[0]
    return names[0], None


@functools.lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int) -> tuple[nn.Module, Any]:
  del mtime_ns  # part of the cache key: a replaced file is read again
  module, params = load_generator_file(path)
  if module.num_in_ch != 3 or module.num_out_ch != 3:
    raise ValueError(f'{path.name} maps {module.num_in_ch} to {module.num_out_ch} channels; the app needs RGB -> RGB.')
  return module, params
