"""Upscaling one video file: decoding, the network and encoding overlap, in resumable segments; every other stream is
copied packet for packet.

Three stages run at once, joined by bounded queues (`QUEUE_BATCHES` batches each), so memory stays bounded whatever
the length of the video: a thread decodes frames to RGB levels (uint8, uint16 for sources deeper than 8 bits) and
groups them in batches of `FramePlan.batch_frames`; the calling thread hands each batch to `FramePlan.run` (on the
batch path a jitted call that returns while the devices compute); a thread waits for each result and encodes it.
Batches never straddle segments (`esrgan_jax.video.segments`): a rerun after a kill skips the finished segments
(their frames are decoded, not computed) and encodes the rest exactly as an uninterrupted run would.

Nothing is lost or shifted: each output frame gets the presentation timestamp and duration of its input frame, in
the input stream's time base (variable frame rates stay variable, 24000/1001 stays exact); audio and subtitle packets
are copied unchanged, attachments (the fonts of styled subtitles) too; the rotation (display matrix) and colour
description (matrix, primaries, transfer, range) of the input go to the output. Frames decode to RGB with the matrix
the input declares and encode back with the same. The encoder is `EncodeOptions.codec` (libx264 unless given; `ffv1`
is lossless, in RGB); the container follows the output's extension.
"""

import dataclasses
import fractions
import heapq
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tqdm

from esrgan_jax.data.atomic_write import atomic_path
from esrgan_jax.video.files import VideoReadError, import_av
from esrgan_jax.video.frames import FramePlan
from esrgan_jax.video.segments import SegmentStore

QUEUE_BATCHES = 2  # batches waiting on each side of the network
COPIED_STREAM_TYPES = ('audio', 'subtitle')
_RGB_CODECS = {'ffv1': ('bgr0', 'rgb48le')}  # lossless codecs stored as RGB: (8-bit, deeper) pixel formats


@dataclasses.dataclass(frozen=True)
class EncodeOptions:
  """The video encoder: `codec` (an FFmpeg encoder name), `crf` and `preset` (None: the codec's defaults), and
  `segment_frames`, the frames of a resumable segment."""

  codec: str = 'libx264'
  crf: int | None = None
  preset: str | None = None
  segment_frames: int = 240


@dataclasses.dataclass(frozen=True)
class SourceInfo:
  """What the output takes over from the input's video stream (read from its first frame)."""

  height: int
  width: int
  deep: bool  # more than 8 bits per sample: frames decode to uint16
  time_base: fractions.Fraction
  rate: fractions.Fraction | None
  frame_count: int  # as the container declares it; 0 when unknown
  rotation: int
  colorspace: int
  color_range: int
  color_primaries: int
  color_trc: int


@dataclasses.dataclass(frozen=True)
class VideoResult:
  """What `upscale_video` did: frames in the video, frames this run computed (the rest resumed), the input size."""

  frames: int
  computed: int
  height: int
  width: int


@dataclasses.dataclass
class _Batch:
  segment: int
  pts: list[int]
  durations: list[int]
  pixels: list[np.ndarray]
  ends_segment: bool


def _open(av: Any, path: Path) -> Any:
  try:
    return av.open(str(path))
  except av.error.FFmpegError as e:
    raise VideoReadError(f'{path}: cannot open as a video ({e}).') from e


def probe(path: Path) -> SourceInfo:
  """The SourceInfo of `path`'s first video stream. Raises VideoReadError naming the file."""
  av = import_av()
  with _open(av, path) as container:
    if not container.streams.video:
      raise VideoReadError(f'{path}: no video stream.')
    stream = container.streams.video[0]
    first = next((frame for _, frame in _decoded(av, path, container)), None)
    if first is None:
      raise VideoReadError(f'{path}: the video stream has no decodable frame.')
    return SourceInfo(
      height=first.height,
      width=first.width,
      deep=first.format.components[0].bits > 8,
      time_base=stream.time_base,
      rate=stream.average_rate,
      frame_count=stream.frames,
      rotation=int(first.rotation),
      colorspace=int(first.colorspace),
      color_range=int(first.color_range),
      color_primaries=int(first.color_primaries),
      color_trc=int(first.color_trc),
    )


def _decoded(av: Any, path: Path, container: Any) -> Iterator[tuple[int, Any]]:
  """(index, frame) of the first video stream in presentation order; VideoReadError names the file and frame."""
  index = 0
  try:
    for frame in container.decode(container.streams.video[0]):
      if frame.pts is None:
        raise VideoReadError(f'{path}: frame {index} has no timestamp.')
      yield index, frame
      index += 1
  except av.error.FFmpegError as e:
    raise VideoReadError(f'{path}: cannot decode frame {index} ({e}).') from e


def _put(channel: queue.Queue, item: Any, stop: threading.Event) -> None:
  while not stop.is_set():
    try:
      channel.put(item, timeout=0.1)
      return
    except queue.Full:
      continue


class _Stage(threading.Thread):
  """A daemon thread running `target`; `error` holds what it raised."""

  def __init__(self, target: Callable[[], None]):
    super().__init__(daemon=True)
    self._target_fn, self.error = target, None

  def run(self) -> None:
    try:
      self._target_fn()
    except BaseException as e:  # pylint: disable=broad-except  (handed to the calling thread)
      self.error = e


def _pixel_format(av: Any, codec: str, deep: bool) -> str:
  """The encoder's pixel format: RGB for lossless RGB codecs, else 4:2:0 (10-bit for deep sources when the encoder
  has it), else the encoder's first format."""
  wanted = _RGB_CODECS.get(codec, ('yuv420p', 'yuv420p10le'))[1 if deep else 0]
  formats = [f.name for f in av.Codec(codec, 'w').video_formats or ()]
  return wanted if wanted in formats or not formats else formats[0]


def _encoder_options(options: EncodeOptions) -> dict[str, str]:
  encoder = {}
  if options.crf is not None:
    encoder['crf'] = str(options.crf)
    if options.codec == 'libvpx-vp9':
      encoder['b'] = '0'  # constant quality
  if options.preset is not None:
    encoder['preset'] = options.preset
  return encoder


class _SegmentWriter:
  """Encodes the frames of one segment into the store's temporary file, recording each packet's timestamps."""

  def __init__(self, av: Any, store: SegmentStore, index: int, info: SourceInfo, options: EncodeOptions, shape):
    self.av, self.store, self.index, self.info = av, store, index, info
    self.frames, self.packets, self.durations = 0, [], {}
    self.rgb = options.codec in _RGB_CODECS
    self.container = av.open(str(store.temporary_media(index)), 'w', format='matroska')
    try:
      self.stream = self.container.add_stream(options.codec, rate=info.rate, options=_encoder_options(options))
    except (ValueError, av.error.FFmpegError) as e:
      self.container.close()
      raise ValueError(f'cannot encode with --codec {options.codec} ({e}).') from e
    context = self.stream.codec_context
    context.height, context.width = shape
    context.pix_fmt = _pixel_format(av, options.codec, info.deep)
    context.time_base = info.time_base
    if not self.rgb:
      context.colorspace, context.color_range = info.colorspace, info.color_range
    context.color_primaries, context.color_trc = info.color_primaries, info.color_trc

  def add(self, pixels: np.ndarray, pts: int, duration: int) -> None:
    frame = self.av.VideoFrame.from_ndarray(pixels, format='rgb48le' if pixels.dtype == np.uint16 else 'rgb24')
    frame = frame.reformat(
      format=self.stream.codec_context.pix_fmt,
      dst_colorspace=None if self.rgb else self.info.colorspace or None,
      dst_color_range=None if self.rgb else self.info.color_range or None,
    )
    frame.pts, frame.time_base = pts, self.info.time_base
    self.durations[pts] = duration
    self._mux(self.stream.encode(frame))
    self.frames += 1

  def _mux(self, packets: list[Any]) -> None:
    for packet in packets:
      packet.duration = self.durations.get(packet.pts, 0)
      self.packets.append((packet.pts, packet.dts, packet.duration))
      self.container.mux(packet)

  def finish(self) -> None:
    self._mux(self.stream.encode(None))
    self.container.close()
    self.store.finish(self.index, self.frames, self.packets)


def upscale_video(
  in_path: Path,
  out_path: Path,
  plan: Callable[[int, int], FramePlan],
  options: EncodeOptions,
  settings: dict[str, Any],
  *,
  progress: bool = True,
) -> VideoResult:
  """Upscales the video `in_path` into `out_path` (its container chosen by the extension), resuming the segments a
  killed run with the same `settings` (model, options; the input's size and time are added) left.

  `plan(height, width)` gives the FramePlan for the input's frames. Raises VideoReadError naming the file (and frame)
  for inputs that cannot be read, ValueError for outputs that cannot be written (codec, container); the finished
  segments stay for a rerun.
  """
  av = import_av()
  info = probe(in_path)
  _check_output(av, in_path, out_path, options.codec)
  stat = in_path.stat()
  store = SegmentStore(
    out_path,
    {
      **settings,
      'input': [str(in_path.resolve()), stat.st_size, stat.st_mtime_ns],
      'encode': dataclasses.asdict(options),
    },
  )
  frame_plan = plan(info.height, info.width)
  frames, computed = _run_segments(av, in_path, info, frame_plan, options, store, progress)
  _join(av, in_path, out_path, store, info, -(-frames // options.segment_frames))
  store.remove()
  return VideoResult(frames, computed, info.height, info.width)


def _run_segments(
  av: Any, in_path: Path, info: SourceInfo, plan: FramePlan, options: EncodeOptions, store: SegmentStore, progress: bool
) -> tuple[int, int]:
  """Decodes, upscales and encodes the unfinished segments; returns (frames in the video, frames computed)."""
  to_network, to_encoder = queue.Queue(QUEUE_BATCHES), queue.Queue(QUEUE_BATCHES)
  stop, counts = threading.Event(), {'frames': 0, 'computed': 0}
  bar = tqdm.tqdm(
    total=info.frame_count or None, desc=in_path.name, unit='frame', disable=not progress, dynamic_ncols=True
  )
  finished = {}

  def is_finished(segment: int) -> bool:
    if segment not in finished:
      finished[segment] = store.frames(segment) is not None
    return finished[segment]

  def decode() -> None:
    batch, previous_pts = None, None
    with _open(av, in_path) as container:
      for index, frame in _decoded(av, in_path, container):
        if stop.is_set():
          return
        if (frame.height, frame.width) != (info.height, info.width):
          raise VideoReadError(
            f'{in_path}: frame {index} is {frame.width}x{frame.height}, the first {info.width}x{info.height} (a '
            'size change within a video is not supported; split the file there).'
          )
        segment, counts['frames'] = index // options.segment_frames, index + 1
        duration = frame.duration or (frame.pts - previous_pts if previous_pts is not None else 0)
        previous_pts = frame.pts
        if is_finished(segment):
          bar.update(1)
          continue
        batch = batch or _Batch(segment, [], [], [], False)
        batch.pts.append(frame.pts)
        batch.durations.append(duration)
        batch.pixels.append(frame.to_ndarray(format='rgb48le' if info.deep else 'rgb24'))
        batch.ends_segment = (index + 1) % options.segment_frames == 0
        if batch.ends_segment or len(batch.pts) == plan.batch_frames:
          _put(to_network, batch, stop)
          batch = None
    if batch is not None:
      batch.ends_segment = True
      _put(to_network, batch, stop)
    _put(to_network, None, stop)

  def encode() -> None:
    writer = None
    while (item := _get(to_encoder, stop)) is not None:
      batch, result = item
      out = np.asarray(result)[: len(batch.pts)]
      if writer is None:
        writer = _SegmentWriter(av, store, batch.segment, info, options, out.shape[1:3])
      for pixels, pts, duration in zip(out, batch.pts, batch.durations):
        writer.add(pixels, pts, duration)
      bar.update(len(batch.pts))
      if batch.ends_segment:
        writer.finish()
        writer = None

  stages = [_Stage(decode), _Stage(encode)]
  for stage in stages:
    stage.start()
  try:
    while True:
      batch = _next(to_network, stages[0])
      if batch is None:
        break
      pixels = np.stack(batch.pixels + batch.pixels[-1:] * (plan.batch_frames - len(batch.pixels)))
      counts['computed'] += len(batch.pts)
      _put_checked(to_encoder, (batch, plan.run(pixels)), stages[1])
    _put_checked(to_encoder, None, stages[1])
    stages[1].join()
    if stages[1].error is not None:
      raise stages[1].error
  finally:
    stop.set()
    bar.close()
  if 0 < counts['frames'] < info.frame_count:
    raise VideoReadError(
      f'{in_path}: the video stream ends at frame {counts["frames"]} of the {info.frame_count} its container '
      'declares (the file is cut short or corrupt).'
    )
  return counts['frames'], counts['computed']


def _next(channel: queue.Queue, producer: _Stage) -> Any:
  """The next item of `channel`, raising what `producer` raised once it stopped."""
  while True:
    try:
      return channel.get(timeout=0.1)
    except queue.Empty:
      if not producer.is_alive():
        if producer.error is not None:
          raise producer.error from None
        return channel.get_nowait() if not channel.empty() else None


def _put_checked(channel: queue.Queue, item: Any, consumer: _Stage) -> None:
  """Puts `item` into `channel`, raising what `consumer` raised if it stopped."""
  while True:
    if consumer.error is not None:
      raise consumer.error
    try:
      channel.put(item, timeout=0.1)
      return
    except queue.Full:
      continue


def _get(channel: queue.Queue, stop: threading.Event) -> Any:
  """The next item of `channel`, or None once `stop` is set."""
  while not stop.is_set():
    try:
      return channel.get(timeout=0.1)
    except queue.Empty:
      continue
  return None


def _decode_time(packet: Any) -> fractions.Fraction:
  """When `packet` is decoded, in seconds (its dts, else its pts)."""
  stamp = packet.dts if packet.dts is not None else packet.pts
  return fractions.Fraction(stamp or 0) * packet.time_base


def _copy_streams(av: Any, source: Any, output: Any, in_path: Path, out_path: Path) -> dict[int, Any]:
  """Adds the input's attachments, and streams for its audio and subtitle packets, to `output`; returns the latter
  by input stream index. Raises ValueError (one line) for a stream the output's container cannot hold."""
  copied = {}
  for stream in source.streams:
    try:
      if stream.type == 'attachment':  # fonts of styled subtitles: no packets, a payload in the header
        output.add_attachment(stream.name, stream.mimetype, bytes(stream.data))
      elif stream.type in COPIED_STREAM_TYPES:
        copied[stream.index] = output.add_stream_from_template(stream)
    except (ValueError, av.error.FFmpegError) as e:
      raise ValueError(
        f'the {out_path.suffix} container cannot hold the {stream.type} stream {stream.index} of {in_path} ({e}); '
        'pick another --ext (mkv holds most).'
      ) from e
  return copied


def _check_output(av: Any, in_path: Path, out_path: Path, codec: str) -> None:
  """Raises ValueError (one line) before any frame is computed when `out_path`'s container cannot hold the `codec`
  video or one of the input's copied streams, or `codec` is no encoder."""
  check = out_path.with_name(f'.{out_path.stem}.check{out_path.suffix}')
  try:
    with _open(av, in_path) as source, av.open(str(check), 'w') as output:
      try:
        output.add_stream(codec)
      except (ValueError, av.error.FFmpegError) as e:
        raise ValueError(f'cannot write --codec {codec} into {out_path.name} ({e}).') from e
      _copy_streams(av, source, output, in_path, out_path)
  finally:
    check.unlink(missing_ok=True)


def _join(av: Any, in_path: Path, out_path: Path, store: SegmentStore, info: SourceInfo, segments: int) -> None:
  """Writes `out_path` (through a temporary file beside it) from the segments' packets and the input's audio and
  subtitle packets, interleaved by decode time."""
  with atomic_path(out_path) as temporary, _open(av, in_path) as source, av.open(str(store.media(0))) as template:
    with av.open(str(temporary), 'w') as output:
      video = output.add_stream_from_template(template.streams.video[0])
      video.time_base = info.time_base
      if info.rotation:
        video.set_display_rotation(info.rotation)
      copied = _copy_streams(av, source, output, in_path, out_path)

      def video_packets() -> Iterator[tuple[fractions.Fraction, int, int, Any, Any]]:
        count = 0
        for index in range(segments):
          for packet in store.packets(av, index):
            packet.time_base = info.time_base
            count += 1
            yield _decode_time(packet), 0, count, packet, video

      def other_packets() -> Iterator[tuple[fractions.Fraction, int, int, Any, Any]]:
        inputs = [source.streams[i] for i in copied]
        for count, packet in enumerate(source.demux(*inputs) if inputs else ()):
          if packet.size:
            yield _decode_time(packet), 1, count, packet, copied[packet.stream.index]

      for *_, packet, target in heapq.merge(video_packets(), other_packets()):
        packet.stream = target
        output.mux(packet)
