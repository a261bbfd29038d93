"""Output files that appear complete or not at all: written under a temporary name in their folder, then renamed.

A crash, a kill or Ctrl-C while a file is written leaves at most a hidden `.NAME.PID-XXXX.partial.EXT` file beside
it (removed when Python can clean up), never a truncated file under the final name. The rename (`os.replace`) is
atomic because the temporary file lies in the same folder, and it replaces an older file of the same name. A URL
(gs://...) is written in place: an object store shows an object only once its upload is complete.
"""

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from esrgan_jax.data import storage


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path | storage.epath.Path]:
  """A temporary path beside `path`, with its extension (writers that pick the format by extension still work), to
  write in the `with` body; renamed to `path` when the body ends, deleted if it raises or is interrupted."""
  if storage.is_url(path):
    yield storage.path(path)
    return
  path = Path(path)
  partial = path.with_name(f'.{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.partial{path.suffix}')
  try:
    yield partial
    os.replace(partial, path)
  finally:
    partial.unlink(missing_ok=True)
