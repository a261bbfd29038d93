"""esrgan_jax.video.frames: batch sizes from the memory budget, and which path (device batches or the image path per
frame) a video's frames take."""

import numpy as np

from esrgan_jax.data.quantize import quantize
from esrgan_jax.inference import memory
from esrgan_jax.models.srvgg import SRVGGNetCompact
from esrgan_jax.video import frames

MODULE = SRVGGNetCompact(scale=2, num_feat=8, num_conv=2)


def test_default_batch_frames_fills_the_budget_in_multiples_of_the_devices():
  one = memory.activation_bytes(MODULE, 48, 64)
  assert frames.default_batch_frames(MODULE, 48, 64, 11 * one, unit=4) == 8
  assert frames.default_batch_frames(MODULE, 48, 64, 3 * one, unit=4) == 3  # fewer than the devices: all that fit
  assert frames.default_batch_frames(MODULE, 48, 64, one // 2, unit=4) == 1
  assert frames.default_batch_frames(MODULE, 48, 64, 1000 * one, unit=8) == frames.MAX_BATCH_FRAMES


def test_whole_frames_at_the_model_scale_run_as_device_batches_else_per_frame():
  device_calls, image_calls = [], []
  apply_levels = lambda x: device_calls.append(x.shape) or x
  upscale = lambda image: image_calls.append(image.shape) or np.repeat(np.repeat(image, 2, 0), 2, 1)
  plan = lambda **kw: frames.plan_frames(
    MODULE, apply_levels, upscale, 48, 64, **{'tile': None, 'tile_pad': 16, 'outscale': None, 'budget': 2**30,
                                             'batch_frames': None, 'unit': 2, **kw}
  )  # fmt: skip
  batched = plan()
  assert batched.on_device and batched.run is apply_levels and batched.batch_frames % 2 == 0
  assert plan(batch_frames=3).batch_frames == 3
  for per_frame in (plan(outscale=3.0), plan(tile=32), plan(budget=1)):
    assert not per_frame.on_device and per_frame.batch_frames == 1
  levels = np.random.default_rng(0).integers(0, 256, (2, 4, 5, 3)).astype(np.uint8)
  out = plan(tile=32).run(levels)
  assert image_calls == [(4, 5, 3)] * 2 and not device_calls
  np.testing.assert_array_equal(out, quantize(np.repeat(np.repeat(levels / np.float32(255), 2, 1), 2, 2) * 255))
