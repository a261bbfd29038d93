"""history.jsonl: one JSON record per training step ({'step': N, losses...}), appended by process 0."""

import json
import os
from pathlib import Path
from typing import TextIO


def _step_of(line: str) -> int | None:
  """The step of a complete record line, None for a line cut short (a run killed while writing it)."""
  if not line.endswith('\n'):
    return None
  try:
    return json.loads(line)['step']
  except (json.JSONDecodeError, KeyError, TypeError):
    return None


def open_for_append(path: Path, resumed_step: int) -> TextIO:
  """`path` opened for appending after dropping the records of steps after `resumed_step` (those a killed run logged
  after its last checkpoint; they are recomputed), so the file records each step once, as an uninterrupted run's."""
  if path.is_file():
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if (step := _step_of(line)) is not None and step <= resumed_step]
    if len(kept) < len(lines):
      partial = path.with_name(path.name + '.tmp')
      partial.write_text(''.join(kept))
      os.replace(partial, path)
  return path.open('a')
