"""Tiled super-resolution of images of any size, with overlapping tiles blended so there are no seams.

Each axis of the image is covered by windows of `tile + 2 * tile_pad` pixels placed every `tile` pixels; the last
window is shifted back to end at the image border instead of being padded, so every window lies inside the image and
all windows of an image share one shape (one compilation). Neighbouring windows overlap by at least `2 * tile_pad`.
A window's output counts with weight 0 within `tile_pad / 2` pixels of an edge it shares with a neighbour (the
pixels that lack context), then with a linear ramp up to 1 over the next `tile_pad` pixels; the weights of two
neighbours sum to 1 across the ramp. So a network whose receptive field reaches at most `tile_pad / 2` input pixels
from the output pixel gives exactly its untiled output; larger networks get a smooth cross-fade instead of a seam.
"""

import itertools
from collections.abc import Callable

import numpy as np
import tqdm

ApplyFn = Callable[[np.ndarray], np.ndarray]


def _round_up(x: int, multiple: int) -> int:
  return -(-x // multiple) * multiple


def _window_starts(length: int, window: int, stride: int) -> list[int]:
  """Starts of windows of size `window` every `stride` pixels; the last one ends at `length`."""
  if length <= window:
    return [0]
  return list(range(0, length - window, stride)) + [length - window]


def _blend_weights(window_out: int, has_before: bool, has_after: bool, tile_pad_out: int) -> np.ndarray:
  """1-D weights [window_out] of one window's output: 0 then a ramp over `tile_pad_out` on shared edges."""
  distance = np.arange(window_out) + 0.5  # from the window's first output pixel
  ones = np.ones(window_out)
  ramp = lambda d: np.clip((d - tile_pad_out / 2) / max(tile_pad_out, 1), 0.0, 1.0)
  return (ramp(distance) if has_before else ones) * (ramp(distance[::-1]) if has_after else ones)


def upscale_image(
  apply_fn: ApplyFn,
  image: np.ndarray,
  *,
  scale: int,
  tile: int = 0,
  tile_pad: int = 16,
  batch_tiles: int = 4,
  size_multiple: int | None = None,
  progress: bool = False,
) -> np.ndarray:
  """Super-resolves one HWC image with `apply_fn`, whole or in blended overlapping tiles.

  Args:
    apply_fn: [N, h, w, C] float32 -> [N, h*scale, w*scale, C'] (jit it once and reuse it: it is always called
      with the same shape for one image, so each image size compiles once, and tiled images of any size share
      the shape [batch_tiles, tile + 2*tile_pad, tile + 2*tile_pad, C] once larger than that).
    image: HWC float in [0, 1].
    scale: the network's upscaling factor.
    tile: core tile size in input pixels; 0 runs the whole image in one call.
    tile_pad: context pixels each tile gets on each side (the overlap is twice that).
    batch_tiles: tiles per `apply_fn` call (the last batch is filled with repeats of its last tile).
    size_multiple: input H and W must be multiples of this (RRDBNet: 4 // scale, the default for scale 1, 2, 4); the
      image is reflect-padded at the bottom/right to a multiple and the output cropped back, and tile sizes and
      window starts are rounded up to multiples, so tiles see the same pixel grouping as the whole image.
    progress: show a tqdm bar over the tiles.

  Returns:
    [H*scale, W*scale, C'] float32, not clipped.
  """
  if image.ndim != 3:
    raise ValueError(f'upscale_image expects an HWC image, got shape {image.shape}.')
  if tile < 0 or tile_pad < 0 or batch_tiles < 1:
    raise ValueError(f'need tile >= 0, tile_pad >= 0 and batch_tiles >= 1, got {tile}, {tile_pad}, {batch_tiles}.')
  multiple = size_multiple or max(1, 4 // scale)
  h, w = image.shape[:2]
  padded = np.pad(
    image.astype(np.float32), ((0, _round_up(h, multiple) - h), (0, _round_up(w, multiple) - w), (0, 0)), mode='reflect'
  )
  if tile == 0:
    return np.asarray(apply_fn(padded[None]), np.float32)[0, : h * scale, : w * scale]
  stride, tile_pad = _round_up(tile, multiple), _round_up(tile_pad, multiple)
  window = stride + 2 * tile_pad
  size = [min(window, n) for n in padded.shape[:2]]
  starts = [_window_starts(n, s, stride) for n, s in zip(padded.shape[:2], size)]
  weights = [
    [_blend_weights(s * scale, i > 0, i < len(axis) - 1, tile_pad * scale) for i in range(len(axis))]
    for s, axis in zip(size, starts)
  ]
  windows = list(itertools.product(range(len(starts[0])), range(len(starts[1]))))
  out, total = None, np.zeros(np.multiply(padded.shape[:2], scale), np.float32)[..., None]
  with tqdm.tqdm(total=len(windows), desc='tiles', unit='tile', leave=False, disable=not progress) as bar:
    for first in range(0, len(windows), batch_tiles):
      chunk = windows[first : first + batch_tiles]
      crops = [padded[starts[0][i] : starts[0][i] + size[0], starts[1][j] : starts[1][j] + size[1]] for i, j in chunk]
      crops += crops[-1:] * (batch_tiles - len(chunk))
      result = np.asarray(apply_fn(np.stack(crops)), np.float32)
      if out is None:
        out = np.zeros(total.shape[:2] + result.shape[-1:], np.float32)
      for (i, j), tile_out in zip(chunk, result):
        y, x = starts[0][i] * scale, starts[1][j] * scale
        weight = np.outer(weights[0][i], weights[1][j]).astype(np.float32)[..., None]
        out[y : y + tile_out.shape[0], x : x + tile_out.shape[1]] += weight * tile_out
        total[y : y + tile_out.shape[0], x : x + tile_out.shape[1]] += weight
      bar.update(len(chunk))
  return (out / total)[: h * scale, : w * scale]
