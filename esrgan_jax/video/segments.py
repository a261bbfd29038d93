"""The resumable part of a video run: its encoded segments, kept in a folder beside the output until the output is
written.

The frames of a video are cut into segments of `segment_frames` frames (in presentation order), each encoded by a
fresh encoder (so it starts with a key frame and decodes on its own). A finished segment is two files in the work
folder `.{output name}.parts/`: `segment_{k:06d}.mkv`, whose video stream carries the packets' bytes and the codec
parameters (Matroska keeps any codec; its muxer may write H.264 start codes as lengths), and `segment_{k:06d}.json`,
the packets' exact timestamps (pts, dts, duration in the input's time base; Matroska would round them to
milliseconds). Both are written under temporary names and renamed, the JSON last, so a segment exists once complete;
a kill loses at most the segment being encoded.
`settings.json` holds what the segments depend on (input file, model, options); a rerun with other settings starts
over. Joining reads the packets back in order with their stored timestamps: no re-encoding.
"""

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from esrgan_jax.data.atomic_write import atomic_path

SETTINGS = 'settings.json'


def work_folder(out_path: Path) -> Path:
  """The folder beside `out_path` that holds its segments while the run lasts."""
  return out_path.parent / f'.{out_path.name}.parts'


class SegmentStore:
  """The finished segments of one output, in `work_folder(out_path)`."""

  def __init__(self, out_path: Path, settings: dict[str, Any]):
    self.folder = work_folder(out_path)
    settings_file = self.folder / SETTINGS
    if self.folder.is_dir() and (not settings_file.is_file() or json.loads(settings_file.read_text()) != settings):
      shutil.rmtree(self.folder)  # another input, model or option: nothing to resume
    self.folder.mkdir(parents=True, exist_ok=True)
    if not settings_file.is_file():
      _write_atomic(settings_file, json.dumps(settings, indent=1))

  def media(self, index: int) -> Path:
    return self.folder / f'segment_{index:06d}.mkv'

  def _timestamps(self, index: int) -> Path:
    return self.folder / f'segment_{index:06d}.json'

  def frames(self, index: int) -> int | None:
    """The frame count of finished segment `index`, or None when it is not finished."""
    path = self._timestamps(index)
    return json.loads(path.read_text())['frames'] if path.is_file() and self.media(index).is_file() else None

  def temporary_media(self, index: int) -> Path:
    """Where segment `index` is encoded before `finish` renames it."""
    return self.folder / f'segment_{index:06d}.tmp.mkv'

  def finish(self, index: int, frames: int, packets: list[tuple[int, int | None, int]]) -> None:
    """Marks segment `index` finished: its encoded `temporary_media` and its packets' (pts, dts, duration)."""
    os.replace(self.temporary_media(index), self.media(index))
    _write_atomic(self._timestamps(index), json.dumps({'frames': frames, 'packets': packets}))

  def packets(self, av: Any, index: int) -> Iterator[Any]:
    """The packets of finished segment `index` in decode order, with their stored timestamps (time base unset)."""
    stored = json.loads(self._timestamps(index).read_text())['packets']
    with av.open(str(self.media(index))) as container:
      read = (p for p in container.demux(container.streams.video[0]) if p.size)
      for packet, (pts, dts, duration) in zip(read, stored, strict=True):
        packet.pts, packet.dts, packet.duration = pts, dts, duration
        yield packet

  def remove(self) -> None:
    shutil.rmtree(self.folder, ignore_errors=True)


def _write_atomic(path: Path, text: str) -> None:
  with atomic_path(path) as temporary:
    temporary.write_text(text)
