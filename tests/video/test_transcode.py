"""esrgan_jax.video.transcode through `python -m esrgan_jax.upscale`: frame counts and timestamps (24000/1001, VFR),
audio and subtitle packets copied bit for bit, rotation and colour kept, lossless frames equal to the image path's,
10-bit sources, bad files reported while the others run, and a killed run resumed to the same bytes.

The clips are made here with PyAV: tiny frames, a tiny Compact net."""

import fractions
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import random_params

av = pytest.importorskip('av', reason='PyAV (av) is not installed: pip install esrgan_jax[video]')

from esrgan_jax import upscale  # noqa: E402  (after the skip: the module imports fine, the tests need av)
from esrgan_jax.data.image_io import read_image_raw  # noqa: E402
from esrgan_jax.models.srvgg import SRVGGNetCompact  # noqa: E402
from esrgan_jax.weights.model_io import save_generator  # noqa: E402

RATE = fractions.Fraction(24000, 1001)
SIZE = (48, 64)  # height, width
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def model(tmp_path_factory) -> Path:
  module = SRVGGNetCompact(scale=2, num_feat=8, num_conv=2)
  path = tmp_path_factory.mktemp('model') / 'compact_x2.msgpack'
  save_generator(path, module, random_params(module))
  return path


def make_clip(path: Path, frames=30, pts=None, audio=True, subtitle=False, codec='libx264', pix_fmt='yuv420p', **meta):
  """A clip of moving blocks at 24000/1001 fps (or at `pts` in ms), with a 440 Hz AAC tone and an SRT track."""
  tile = np.random.default_rng(0).integers(0, 256, (SIZE[0] // 8 + 1, SIZE[1] // 8 + 2, 3)).astype(np.uint8)
  image = np.kron(tile, np.ones((8, 8, 1), np.uint8))
  time_base = 1 / RATE if pts is None else fractions.Fraction(1, 1000)
  with av.open(str(path), 'w') as out:
    video = out.add_stream(codec, rate=RATE)
    video.height, video.width, video.pix_fmt = *SIZE, pix_fmt
    video.codec_context.time_base = time_base
    for name, value in meta.items():
      if name == 'rotation':
        video.set_display_rotation(value)
      else:
        setattr(video.codec_context, name, value)
    sound = out.add_stream('aac', rate=48000, layout='mono') if audio else None
    if subtitle:
      srt = path.with_suffix('.srt')
      srt.write_text('1\n00:00:00,100 --> 00:00:00,400\nline one\n\n2\n00:00:00,500 --> 00:00:00,900\nline two\n')
      subtitles = av.open(str(srt))
      text = out.add_stream_from_template(subtitles.streams[0])
      out.add_attachment('font.ttf', 'font/ttf', b'glyphs')
    for i in range(frames):
      frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[: SIZE[0], i % 8 : i % 8 + SIZE[1]]), 'rgb24')
      frame = frame.reformat(format=pix_fmt, dst_colorspace=meta.get('colorspace'))
      frame.pts, frame.time_base = (i if pts is None else pts[i]), time_base
      out.mux(video.encode(frame))
    out.mux(video.encode(None))
    if sound is not None:
      samples = (0.3 * np.sin(np.arange(int(48000 * frames / RATE)) * 2 * np.pi * 440 / 48000)).astype(np.float32)
      for start in range(0, len(samples), 1024):
        chunk = av.AudioFrame.from_ndarray(samples[None, start : start + 1024], format='fltp', layout='mono')
        chunk.sample_rate, chunk.pts = 48000, start
        out.mux(sound.encode(chunk))
      out.mux(sound.encode(None))
    if subtitle:
      for packet in subtitles.demux():
        if packet.size:
          packet.stream = text
          out.mux(packet)
      subtitles.close()
  return path


def stamps(path: Path) -> list[fractions.Fraction]:
  """Presentation times (s) of the decoded video frames."""
  with av.open(str(path)) as container:
    return [frame.pts * frame.time_base for frame in container.decode(video=0)]


def packets(path: Path, kind: str) -> list[tuple[fractions.Fraction, bytes]]:
  with av.open(str(path)) as container:
    found = [s for s in container.streams if s.type == kind]
    return [(p.pts * p.time_base, bytes(p)) for p in container.demux(*found) if p.size]


def frames_rgb(path: Path) -> np.ndarray:
  with av.open(str(path)) as container:
    return np.stack([frame.to_ndarray(format='rgb24') for frame in container.decode(video=0)])


def run(model, *args) -> int:
  return upscale.main([*map(str, args), '--model', str(model)])


def test_mp4_keeps_frames_timestamps_audio_rotation_and_colour(model, tmp_path):
  clip = make_clip(tmp_path / 'clip.mp4', rotation=90, colorspace=1, color_primaries=1, color_trc=1)
  assert run(model, '-i', clip, '-o', tmp_path / 'out', '--segment-frames', '8', '--batch-frames', '8') == 0
  out = tmp_path / 'out' / 'clip_out.mp4'
  assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['clip_out.mp4']  # no segments, no temp file left
  assert stamps(out) == stamps(clip) and len(stamps(out)) == 30
  assert packets(out, 'audio') == packets(clip, 'audio') and len(packets(clip, 'audio')) > 50
  with av.open(str(out)) as container, av.open(str(clip)) as source:
    stream, frame = container.streams.video[0], next(container.decode(video=0))
    assert (stream.codec_context.name, frame.width, frame.height) == ('h264', 128, 96)
    assert stream.average_rate == RATE and frame.rotation == 90
    assert (int(frame.colorspace), int(frame.color_primaries), int(frame.color_trc)) == (1, 1, 1)
    assert abs(container.duration - source.duration) <= 1e6 / RATE  # microseconds: within one frame


def test_vfr_mkv_keeps_timestamps_and_subtitle_packets(model, tmp_path):
  pts = [0, 40, 50, 130, 140, 400, 410, 420, 700, 1000, 1001, 1050]  # ms, irregular
  clip = make_clip(tmp_path / 'vfr.mkv', frames=len(pts), pts=pts, subtitle=True)
  assert run(model, '-i', clip, '-o', tmp_path / 'out', '--segment-frames', '5') == 0
  out = tmp_path / 'out' / 'vfr_out.mkv'
  assert stamps(out) == [fractions.Fraction(p, 1000) for p in pts]
  assert packets(out, 'subtitle') == packets(clip, 'subtitle') and len(packets(clip, 'subtitle')) == 2
  assert packets(out, 'audio') == packets(clip, 'audio')
  with av.open(str(out)) as container:
    (font,) = [s for s in container.streams if s.type == 'attachment']
    assert (font.name, font.mimetype, bytes(font.data)) == ('font.ttf', 'font/ttf', b'glyphs')


def test_a_container_that_cannot_hold_a_stream_fails_before_any_frame(model, tmp_path, capsys):
  clip = make_clip(tmp_path / 'subs.mkv', frames=3, subtitle=True)
  assert run(model, '-i', clip, '-o', tmp_path / 'out', '--ext', 'mp4') == 1
  assert f'{clip}: the .mp4 container cannot hold the subtitle stream 2 of {clip}' in capsys.readouterr().err
  assert not list((tmp_path / 'out').iterdir())  # nothing computed, nothing to resume


@pytest.mark.parametrize('extra', [[], ['--outscale', '3']], ids=['batched on the devices', 'outscale per frame'])
def test_lossless_frames_equal_the_image_path(model, tmp_path, extra):
  from PIL import Image  # pylint: disable=g-import-not-at-top

  clip = make_clip(tmp_path / 'clip.mp4', frames=10, audio=False)
  args = ['--codec', 'ffv1', '--ext', 'mkv', '--batch-frames', '8', '--segment-frames', '6', *extra]
  assert run(model, '-i', clip, '-o', tmp_path / 'out', *args) == 0
  (tmp_path / 'frames').mkdir()
  for i, frame in enumerate(frames_rgb(clip)):
    Image.fromarray(frame).save(tmp_path / 'frames' / f'{i:02d}.png')
  assert run(model, '-i', tmp_path / 'frames', '-o', tmp_path / 'images', *extra) == 0
  video = frames_rgb(tmp_path / 'out' / 'clip_out.mkv')
  images = np.stack([read_image_raw(tmp_path / 'images' / f'{i:02d}_out.png')[0] for i in range(10)])
  assert video.shape == images.shape == ((10, 144, 192, 3) if extra else (10, 96, 128, 3))
  np.testing.assert_array_equal(video, images)


def test_ten_bit_source_gives_ten_bit_output(model, tmp_path):
  clip = make_clip(tmp_path / 'deep.mkv', frames=6, audio=False, pix_fmt='yuv420p10le')
  assert run(model, '-i', clip, '-o', tmp_path / 'out') == 0
  with av.open(str(tmp_path / 'out' / 'deep_out.mkv')) as container:
    frames = list(container.decode(video=0))
  assert len(frames) == 6 and frames[0].format.name == 'yuv420p10le' and frames[0].width == 128


def test_bad_videos_are_reported_by_name_and_the_rest_runs(model, tmp_path, capsys):
  from PIL import Image  # pylint: disable=g-import-not-at-top

  folder = tmp_path / 'in'
  folder.mkdir()
  (folder / 'garbage.mp4').write_bytes(os.urandom(4000))
  make_clip(folder / 'audio_only.mkv', frames=12, audio=True, codec='ffv1', pix_fmt='yuv420p')
  with av.open(str(folder / 'audio_only.mkv')) as source, av.open(str(folder / 'sound.mkv'), 'w') as out:
    stream = out.add_stream_from_template(source.streams.audio[0])
    for packet in source.demux(source.streams.audio[0]):
      if packet.size:
        packet.stream = stream
        out.mux(packet)
  (folder / 'audio_only.mkv').unlink()
  whole = make_clip(tmp_path / 'whole.mp4', frames=30, audio=False)
  with av.open(str(whole)) as source, av.open(str(folder / 'cut.mp4'), 'w', options={'movflags': 'faststart'}) as out:
    stream, video_bytes = out.add_stream_from_template(source.streams.video[0]), 0
    for packet in source.demux(source.streams.video[0]):
      if packet.size:
        packet.stream, video_bytes = stream, video_bytes + packet.size
        out.mux(packet)
  data = (folder / 'cut.mp4').read_bytes()  # the index first (faststart), then the frames: cut half of them off
  (folder / 'cut.mp4').write_bytes(data[: len(data) - video_bytes // 2])
  Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / 'image.png')
  assert run(model, '-i', folder, '-o', tmp_path / 'out') == 1
  err = capsys.readouterr().err
  assert f'{folder / "garbage.mp4"}: cannot open as a video' in err
  assert f'{folder / "sound.mkv"}: no video stream' in err
  cut = next(line for line in err.splitlines() if line.startswith(f'skipped {folder / "cut.mp4"}'))
  assert 'cannot decode frame' in cut or 'the video stream ends at frame' in cut
  assert (tmp_path / 'out' / 'image_out.png').is_file()


KILL_AFTER_TWO_SEGMENTS = """
import os, signal, sys
from esrgan_jax import runtime
from esrgan_jax.video import segments
finish, done = segments.SegmentStore.finish, []
def finish_then_die(self, *args):
  finish(self, *args)
  done.append(1)
  if len(done) == 2:
    os.kill(os.getpid(), signal.SIGKILL)
segments.SegmentStore.finish = finish_then_die
from esrgan_jax import upscale
sys.exit(upscale.main(sys.argv[1:]))
"""


def test_a_killed_run_resumes_to_the_same_bytes(model, tmp_path, capsys):
  clip = make_clip(tmp_path / 'clip.mp4', frames=20)
  args = ['-i', clip, '--segment-frames', '4', '--batch-frames', '8', '--model', model]
  assert run(model, *args[:2], '-o', tmp_path / 'whole', *args[2:-2]) == 0
  env = {**os.environ, 'JAX_NUM_CPU_DEVICES': '8', 'PYTHONPATH': str(REPO)}
  killed = subprocess.run(
    [sys.executable, '-c', KILL_AFTER_TWO_SEGMENTS, *map(str, args), '-o', str(tmp_path / 'resumed')],
    env=env,
    capture_output=True,
    timeout=600,
  )
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
  parts = tmp_path / 'resumed' / '.clip_out.mp4.parts'
  assert sorted(p.name for p in parts.glob('segment_*.json')) == ['segment_000000.json', 'segment_000001.json']
  capsys.readouterr()
  assert run(model, *args[:2], '-o', tmp_path / 'resumed', *args[2:-2]) == 0
  assert 'resumed 8 of 20 frames' in capsys.readouterr().out
  assert (tmp_path / 'resumed' / 'clip_out.mp4').read_bytes() == (tmp_path / 'whole' / 'clip_out.mp4').read_bytes()
  assert not parts.exists()
