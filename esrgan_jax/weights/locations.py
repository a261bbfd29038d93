"""Where weight and data files the user supplies are found: a flag (or config field) > `$ESRGAN_JAX_WEIGHTS` > the
default directory `$XDG_DATA_HOME/esrgan_jax/weights` (`~/.local/share/esrgan_jax/weights` when XDG_DATA_HOME is
unset). `python -m esrgan_jax.convert` writes there by default, and training and the metrics read from there."""

import os
from collections.abc import Mapping
from pathlib import Path

from etils import epath

from esrgan_jax import user_dirs
from esrgan_jax.data import storage

WEIGHTS_DIR_ENV = 'ESRGAN_JAX_WEIGHTS'


def weights_dir(environ: Mapping[str, str] | None = None) -> Path:
  """The directory of converted weight files: `$ESRGAN_JAX_WEIGHTS`, else the XDG data dir's esrgan_jax/weights."""
  environ = os.environ if environ is None else environ
  if environ.get(WEIGHTS_DIR_ENV):
    return Path(environ[WEIGHTS_DIR_ENV]).expanduser()
  return user_dirs.data_dir(environ) / 'weights'


def weights_file(file_name: str, given: str | os.PathLike | None = None) -> epath.Path:
  """`given` (a flag or config value; a URL too) when set, else `weights_dir() / file_name`."""
  return storage.path(given if given else weights_dir() / file_name)
