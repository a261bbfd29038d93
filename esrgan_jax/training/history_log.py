"""history.jsonl: one JSON record per training step ({'step': N, losses...}), appended by process 0."""

import json
import os
from typing import TextIO

from esrgan_jax.data import storage


def _step_of(line: str) -> int | None:
  """The step of a complete record line, None for a line cut short (a run killed while writing it)."""
  if not line.endswith('\n'):
    return None
  try:
    return json.loads(line)['step']
  except (json.JSONDecodeError, KeyError, TypeError):
    return None


class _RewrittenLog:
  """A text log on an object store, which cannot append: `flush` rewrites the whole object when lines were added."""

  def __init__(self, path, text: str):
    self._path, self._text, self._dirty = path, text, False

  def write(self, text: str) -> None:
    self._text += text
    self._dirty = True

  def flush(self) -> None:
    if self._dirty:
      self._path.write_text(self._text)
      self._dirty = False

  def close(self) -> None:
    self.flush()


def open_for_append(path: str | os.PathLike, resumed_step: int) -> TextIO | _RewrittenLog:
  """`path` opened for appending after dropping the records of steps after `resumed_step` (those a killed run logged
  after its last checkpoint; they are recomputed), so the file records each step once, as an uninterrupted run's.
  On an object store (gs://...) each `flush` rewrites the file."""
  path = storage.path(path)
  text = path.read_text() if path.is_file() else ''
  lines = text.splitlines(keepends=True)
  kept = ''.join(line for line in lines if (step := _step_of(line)) is not None and step <= resumed_step)
  if storage.is_url(path):
    return _RewrittenLog(path, kept)
  if len(kept) < len(text):
    partial = path.with_name(path.name + '.tmp')
    partial.write_text(kept)
    os.replace(partial, path)
  return open(path, 'a')  # noqa: SIM115  (the caller closes it)
