"""How the frames of one video go through the network: batches on the devices when a frame fits the memory budget
whole, else one frame at a time through the image path (tiles, `outscale`).

A frame batch is uint8 (or uint16) [N, H, W, 3] levels. On the batch path the levels go to the devices as they are
and come back as levels (`make_apply_fn(..., quantized=True)`): the conversion to [0, 1], the clipping and the
rounding run on the devices. The per-frame path calls the image path's `upscale(image)` (HWC float in [0, 1], the
upscale CLI's tiling and `outscale`) and rounds as written images are rounded (`data.quantize`), so a frame comes out
as the same image written as a PNG would.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from esrgan_jax.data.quantize import levels_to_unit, quantize
from esrgan_jax.inference import memory

MAX_BATCH_FRAMES = 32  # the default batch never exceeds this, whatever the budget


@dataclasses.dataclass(frozen=True)
class FramePlan:
  """`run`: [N, H, W, 3] levels -> [N, H', W', 3] levels (numpy, or a jax.Array still computing); `batch_frames`:
  the N of every call (the last batch of a segment is padded with repeats of its last frame); `on_device`: whether
  `run` is the batch path."""

  run: Callable[[np.ndarray], Any]
  batch_frames: int
  on_device: bool


def default_batch_frames(module: Any, height: int, width: int, budget: int, unit: int) -> int:
  """Frames per call that fit `budget` bytes of activations (`memory.activation_bytes`), a multiple of `unit`
  (the devices a batch is split over) when at least `unit` fit, at most MAX_BATCH_FRAMES, at least 1."""
  fit = min(MAX_BATCH_FRAMES, budget // max(1, memory.activation_bytes(module, height, width)))
  return max(1, fit // unit * unit if fit >= unit else fit)


def per_frame(upscale: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
  """A batch function calling the image path `upscale` (HWC [0, 1] -> HWC [0, 1]) on each frame."""

  def run(frames: np.ndarray) -> np.ndarray:
    top = np.iinfo(frames.dtype).max
    return np.stack([quantize(np.clip(upscale(levels_to_unit(frame)), 0, 1) * top, top) for frame in frames])

  return run


def plan_frames(
  module: Any,
  apply_levels: Callable[[np.ndarray], Any],
  upscale: Callable[[np.ndarray], np.ndarray],
  height: int,
  width: int,
  *,
  tile: int | None,
  tile_pad: int,
  outscale: float | None,
  budget: int | None,
  batch_frames: int | None,
  unit: int,
) -> FramePlan:
  """The FramePlan for H x W frames: the batch path (`apply_levels`, from `make_apply_fn(..., quantized=True)`)
  when the whole frame runs in one call (`tile` 0, or `tile` None and the frame fits `budget`, default
  `memory.default_budget()`) at the model's scale; else `per_frame(upscale)`. `batch_frames` None picks
  `default_batch_frames`."""
  budget = memory.default_budget() if budget is None else budget
  if tile is None:
    tile = memory.tile_for_budget(module, height, width, budget, tile_pad)
  whole = tile == 0 and outscale in (None, module.scale)
  batch = batch_frames or (default_batch_frames(module, height, width, budget, unit) if whole else 1)
  return FramePlan(apply_levels if whole else per_frame(upscale), batch, whole)
