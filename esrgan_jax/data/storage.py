"""Local paths and URLs (gs://, s3://, ...) behind one abstraction: `etils.epath`, as flax's examples use it.

`etils.epath.Path` reads and writes URLs through `tf.io.gfile` when TensorFlow is installed, else through fsspec
(gcsfs for gs://); `EPATH_USE_TF=false` picks fsspec. Orbax takes the same paths and writes its checkpoints to gs://
natively (TensorStore's GCS driver). Object stores cannot append to a file: `append_text` rewrites it there.
"""

import glob as local_glob
import os

from etils import epath

GLOB_CHARS = '*?['


def is_url(path: str | os.PathLike) -> bool:
  """True for `scheme://...` (gs://bucket/run, s3://...), False for a local path."""
  return '://' in os.fspath(path)


def path(value: str | os.PathLike) -> epath.Path:
  """`value` as an `epath.Path`: a URL as it is, a local path with `~` expanded."""
  if isinstance(value, epath.Path):
    return value
  return epath.Path(value) if is_url(value) else epath.Path(os.path.expanduser(os.fspath(value)))


def bucket(url: str | os.PathLike) -> epath.Path:
  """The `scheme://bucket` that URL `url` lies in: object stores create folders, never buckets."""
  scheme, rest = os.fspath(url).split('://', 1)
  return epath.Path(f'{scheme}://{rest.split("/", 1)[0]}')


def glob(pattern: str) -> list[str]:
  """The files matching `pattern` (a local glob or a URL with wildcards after the bucket), sorted."""
  if not is_url(pattern):
    return sorted(local_glob.glob(os.path.expanduser(pattern)))
  scheme, rest = pattern.split('://', 1)
  parts = rest.split('/')
  first = next((i for i, part in enumerate(parts) if any(c in part for c in GLOB_CHARS)), len(parts))
  if first == len(parts):
    return [pattern] if path(pattern).is_file() else []
  base = path(f'{scheme}://' + '/'.join(parts[:first]))
  if not base.is_dir():
    return []
  return sorted(os.fspath(p) for p in base.glob('/'.join(parts[first:])))


def append_text(file: str | os.PathLike, text: str) -> None:
  """Appends `text` to `file` (created if missing); on object stores, by rewriting the file."""
  file = path(file)
  if not is_url(file):
    with file.open('a') as f:
      f.write(text)
    return
  file.write_text((file.read_text() if file.exists() else '') + text)
