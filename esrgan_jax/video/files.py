"""Which files are videos, the error for unusable ones, and the PyAV import with the install hint."""

import os
from pathlib import Path
from typing import Any

from esrgan_jax import extras

VIDEO_EXTENSIONS = ('.mp4', '.m4v', '.mkv', '.mov', '.webm', '.avi')
INSTALL_HINT = extras.install_hint('video')


class VideoReadError(ValueError):
  """A video that cannot be opened or decoded, or has no video stream; the message names the file (and frame)."""


def is_video(path: str | os.PathLike) -> bool:
  """Whether `path` has a VIDEO_EXTENSIONS suffix."""
  return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def list_videos(path: str | os.PathLike) -> list[Path]:
  """The video files (by VIDEO_EXTENSIONS) in the folder `path` and below, sorted; `[path]` for a video file."""
  path = Path(path)
  if path.is_file():
    return [path] if is_video(path) else []
  if not path.is_dir():
    return []
  return sorted(p for p in path.rglob('*') if p.is_file() and is_video(p))


def import_av() -> Any:
  """The `av` module; ImportError with the install command when PyAV is missing."""
  try:
    import av  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(INSTALL_HINT) from e
  return av
