"""esrgan_jax's folders in the user's home as the XDG Base Directory spec places them: data (converted weights) in
`$XDG_DATA_HOME/esrgan_jax`, else `~/.local/share/esrgan_jax`; caches (compiled programs) in
`$XDG_CACHE_HOME/esrgan_jax`, else `~/.cache/esrgan_jax`. Standard library only, so `runtime` may import it."""

import os
from collections.abc import Mapping
from pathlib import Path


def _xdg_dir(variable: str, default: str, environ: Mapping[str, str] | None) -> Path:
  environ = os.environ if environ is None else environ
  return Path(environ.get(variable) or default).expanduser() / 'esrgan_jax'


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
  """`$XDG_DATA_HOME/esrgan_jax` (`~/.local/share/esrgan_jax` when unset or empty); `environ` defaults to os.environ."""
  return _xdg_dir('XDG_DATA_HOME', '~/.local/share', environ)


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
  """`$XDG_CACHE_HOME/esrgan_jax` (`~/.cache/esrgan_jax` when unset or empty); `environ` defaults to os.environ."""
  return _xdg_dir('XDG_CACHE_HOME', '~/.cache', environ)
