"""A video through the upscale CLI's video path vs a PyTorch pipeline doing what Real-ESRGAN's video script does, on
the Compact `realesr-animevideov3` architecture (SRVGGNetCompact: 64 features, 16 convs, PReLU, x4) and on RRDBNet
x4 (23 blocks), side by side in one process, frames per second.

    python benchmarks/video.py [--quick] [--frames 48] [--size 64] [--rrdb-frames 8] [--rrdb-size 32] [--rounds 3]
                               [--json FILE]

Both read the same H.264 clip (no audio) with PyAV and write H.264 (libx264, its defaults) with PyAV.
- ours: `esrgan_jax.video.transcode.upscale_video` with the plan the upscale CLI builds (`make_apply_fn(...,
  quantized=True)`, `frames.plan_frames`: uint8 frames batched and split over one CPU device per core, decode,
  compute and encode overlapped, segments), as `python -m esrgan_jax.upscale -i clip.mp4` runs it.
- torch: Real-ESRGAN's `inference_realesrgan_video.py` without tiling: frames decoded in one stage, each frame
  through `RealESRGANer.enhance` (float32 / 255, one frame per forward, clamp, back to the CPU, * 255, round, uint8
  on the CPU), encoded in another stage (the script's ffmpeg reader and writer are separate processes; here threads,
  so decoding and encoding overlap its compute as they do there). torch threads = the cores.
The weights are random (drawn as the tests draw them, converted with `generator_to_torch`; no downloads). Timing
covers decode to the closed output file; the two take turns (`timing.interleave`), after a warm-up run each (ours
compiles there). Speed-up = torch's median / ours. `--quick` (`run_all.py`): 16 Compact frames, 2 RRDBNet frames.
"""

import argparse
import queue
import sys
import tempfile
import threading
from pathlib import Path

import av
import jax
import jax.numpy as jnp
import numpy as np
import timing
import torch

from esrgan_jax import runtime
from esrgan_jax.inference.apply import make_apply_fn, tiles_per_call
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.models.srvgg import SRVGGNetCompact
from esrgan_jax.video import frames, transcode
from esrgan_jax.weights.generator_state_dicts import generator_to_torch

OURS, TORCH = 'ours (upscale CLI video path)', 'torch Real-ESRGAN-style'


def random_params(module) -> dict:
  """Params drawn from N(0, 0.1 / sqrt(fan-in)) in numpy, so activations stay in range through the net."""
  shapes = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, 8, 8, 3)))['params']
  rng = np.random.default_rng(0)
  draw = lambda s: rng.normal(0, 0.1 / np.sqrt(np.prod(s.shape[:-1]) or 1), s.shape).astype(np.float32)
  return jax.tree.map(draw, shapes)


def make_clip(path: Path, count: int, height: int, width: int) -> Path:
  """`count` frames of `height` x `width` moving smooth noise at 24 fps, H.264."""
  rng = np.random.default_rng(0)
  coarse = rng.random((height // 8 + 2, width // 8 + 4, 3))
  image = (np.kron(coarse, np.ones((8, 8, 1))) * 255).astype(np.uint8)
  with av.open(str(path), 'w') as out:
    stream = out.add_stream('libx264', rate=24)
    stream.width, stream.height = width, height
    stream.pix_fmt = 'yuv420p'
    for i in range(count):
      frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:height, i % 16 : i % 16 + width]), 'rgb24')
      frame.pts = i
      out.mux(stream.encode(frame))
    out.mux(stream.encode(None))
  return path


def ours(module, params, clip: Path, out: Path, preset: str | None = None) -> None:
  """The upscale CLI's video path (fp32, or the module's dtype)."""
  apply_levels = make_apply_fn(module, params, quantized=True)
  plan = lambda h, w: frames.plan_frames(
    module, apply_levels, None, h, w, tile=None, tile_pad=16, outscale=None, budget=None, batch_frames=None,
    unit=tiles_per_call(module),
  )  # fmt: skip
  options = transcode.EncodeOptions('libx264', preset=preset)
  transcode.upscale_video(clip, out, plan, options, {}, progress=False)


def torch_pipeline(net, clip: Path, out: Path, preset: str | None = None, half: bool = False) -> None:
  """Real-ESRGAN's video script, one frame per forward on `net`'s device (in float16 with `half`, as the script on
  a GPU); decoding and encoding in their own threads."""
  device = next(net.parameters()).device
  decoded, encoded = queue.Queue(16), queue.Queue(16)

  def read() -> None:
    with av.open(str(clip)) as source:
      for frame in source.decode(video=0):
        decoded.put((frame.pts, frame.time_base, frame.to_ndarray(format='rgb24')))
    decoded.put(None)

  def write() -> None:
    with av.open(str(out), 'w') as sink:
      stream = None
      while (item := encoded.get()) is not None:
        pts, time_base, image = item
        if stream is None:
          stream = sink.add_stream('libx264', rate=24, options={'preset': preset} if preset else {})
          stream.height, stream.width = image.shape[:2]
          stream.pix_fmt, stream.codec_context.time_base = 'yuv420p', time_base
        frame = av.VideoFrame.from_ndarray(image, 'rgb24')
        frame.pts, frame.time_base = pts, time_base
        sink.mux(stream.encode(frame))
      sink.mux(stream.encode(None))

  threads = [threading.Thread(target=read), threading.Thread(target=write)]
  for thread in threads:
    thread.start()
  while (item := decoded.get()) is not None:
    pts, time_base, image = item
    with torch.inference_mode():  # RealESRGANer.enhance, no tiling, no pre-pad
      x = torch.from_numpy(np.transpose(image.astype(np.float32) / 255.0, (2, 0, 1))).unsqueeze(0).to(device)
      y = net(x.half() if half else x).squeeze().float().cpu().clamp_(0, 1).numpy()
    encoded.put((pts, time_base, (np.transpose(y, (1, 2, 0)) * 255.0).round().astype(np.uint8)))
  encoded.put(None)
  for thread in threads:
    thread.join()


def case(name, module, torch_net, count, size, rounds, folder: Path) -> list[dict]:
  params = random_params(module)
  torch_net.load_state_dict({k: torch.from_numpy(v) for k, v in generator_to_torch(module, params).items()})
  torch_net.eval()
  clip = make_clip(folder / f'{name}.mp4', count, size, size)
  module = runtime.for_platform(module)
  fns = {
    OURS: lambda: ours(module, params, clip, folder / f'{name}_ours.mp4'),
    TORCH: lambda: torch_pipeline(torch_net, clip, folder / f'{name}_torch.mp4'),
  }
  with timing.OtherLoad() as load:
    times = timing.interleave(fns, rounds)
  label = f'{name} {size}x{size} x{module.scale}, {count} frames'
  rows = [
    timing.row('video', label, OURS, times[OURS], work=count, baselines={TORCH: times[TORCH]}, other_load=load.cores),
    timing.row('video', label, TORCH, times[TORCH], work=count, other_load=load.cores),
  ]
  timing.print_rows(rows)
  print(f'  other load {load.cores:.2f} cores', flush=True)
  return rows


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--quick', action='store_true', help='16 Compact frames and 2 RRDBNet frames (unless given)')
  parser.add_argument('--frames', type=int, default=None, help='frames of the Compact clip (default 48)')
  parser.add_argument('--size', type=int, default=64, help='frame side of the Compact clip')
  parser.add_argument(
    '--rrdb-frames', type=int, default=None, help='frames of the RRDBNet clip (default 8; 0: skip RRDBNet)'
  )
  parser.add_argument('--rrdb-size', type=int, default=32, help='frame side of the RRDBNet clip')
  parser.add_argument('--rounds', type=int, default=3)
  parser.add_argument('--json', default=None, help='write the result rows here')
  args = parser.parse_args()
  args.frames = args.frames or (16 if args.quick else 48)
  args.rrdb_frames = (2 if args.quick else 8) if args.rrdb_frames is None else args.rrdb_frames
  runtime.use_fast_cpu_flags()  # as the upscale CLI, before JAX starts its backend
  runtime.use_cpu_device_per_core()
  torch_archs = timing.import_torch_reference()
  print(f'jax devices: {jax.local_devices()}, torch threads: {torch.get_num_threads()}', file=sys.stderr)
  rows = []
  with tempfile.TemporaryDirectory() as folder:
    compact = SRVGGNetCompact(num_feat=64, num_conv=16, scale=4, act_type='prelu')  # realesr-animevideov3
    torch_compact = torch_archs.TorchSRVGGNetCompact(num_feat=64, num_conv=16, upscale=4, act_type='prelu')
    rows += case('compact', compact, torch_compact, args.frames, args.size, args.rounds, Path(folder))
    if args.rrdb_frames:
      rows += case('rrdbnet', RRDBNet(), torch_archs.TorchRRDBNet(), args.rrdb_frames, args.rrdb_size, args.rounds,
                   Path(folder))  # fmt: skip
  timing.write_rows(args.json, rows)


if __name__ == '__main__':
  main()
