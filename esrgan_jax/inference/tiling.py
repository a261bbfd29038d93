"""Tiled super-resolution of images of any size, with overlapping tiles blended so there are no seams.

Each axis of length L is cut into the fewest windows of at most `tile + 2 * tile_pad` pixels whose neighbours overlap
by at least `2 * tile_pad`; all windows of an axis get one size (about (L + (n - 1) * 2 * tile_pad) / n), spread
evenly from border to border, so no window is shifted back into a heavy overlap and all windows of an image share
one shape (one compilation per image size, as for untiled inference). `window_layout` gives the windows of an axis.
A window's output counts with weight 0 within `tile_pad / 2` pixels of an edge it shares with a neighbour (the
pixels that lack context), then with a linear ramp up to 1 over the next `tile_pad` pixels; every output pixel is
the weight-normalised sum of the windows covering it. So a network whose receptive field reaches at most
`tile_pad / 2` input pixels from the output pixel gives exactly its untiled output; larger networks (trained
ESRGANs) get a smooth cross-fade instead of a seam (benchmarks/tile_seams.py measures how close).

The blend weights of a window are the outer product of its two 1-D axis weights, so their normalisation is done per
axis and the output is accumulated in place: beyond the input, memory is one float32 output image plus a batch of
windows.
"""

import itertools
from collections.abc import Callable

import numpy as np
import tqdm

ApplyFn = Callable[[np.ndarray], np.ndarray]


def _round_up(x: int, multiple: int) -> int:
  return -(-x // multiple) * multiple


def window_layout(length: int, tile: int, tile_pad: int, multiple: int = 1) -> tuple[int, list[int]]:
  """(window size, window starts) covering `length` pixels with windows of at most `tile + 2 * tile_pad` pixels that
  overlap their neighbours by at least `2 * tile_pad`; sizes and starts are multiples of `multiple` (`length`,
  `tile` and `tile_pad` must be too). One window of `length` when it fits."""
  cap, overlap = tile + 2 * tile_pad, 2 * tile_pad
  if length <= cap:
    return length, [0]
  count = -(-(length - overlap) // (cap - overlap))
  size = min(cap, _round_up(-(-(length + (count - 1) * overlap) // count), multiple))
  steps = (length - size) // multiple  # spread the starts evenly, rounded to multiples
  return size, [multiple * ((2 * i * steps + count - 1) // (2 * (count - 1))) for i in range(count)]


def _blend_weights(size: int, starts: list[int], scale: int, tile_pad: int) -> list[np.ndarray]:
  """Per window, its 1-D float32 output weights [size * scale], normalised so the windows sum to 1 everywhere."""
  pad_out, distance = tile_pad * scale, np.arange(size * scale) + 0.5  # from the window's first output pixel
  ramp = np.clip((distance - pad_out / 2) / max(pad_out, 1), 0.0, 1.0)
  weights = [
    (ramp if i > 0 else 1.0) * (ramp[::-1] if i < len(starts) - 1 else 1.0) * np.ones(size * scale)
    for i in range(len(starts))
  ]
  total, windows = np.zeros((starts[-1] + size) * scale), [slice(s * scale, (s + size) * scale) for s in starts]
  for window, weight in zip(windows, weights):
    total[window] += weight
  return [(weight / total[window]).astype(np.float32) for window, weight in zip(windows, weights)]


def covered_ratio(height: int, width: int, tile: int, tile_pad: int, multiple: int = 1) -> float:
  """Input pixels the network computes (summed over windows) per image pixel: 1.0 untiled, more with overlaps."""
  padded = [_round_up(n, multiple) for n in (height, width)]
  (size_y, starts_y), (size_x, starts_x) = (
    window_layout(n, _round_up(tile, multiple), _round_up(tile_pad, multiple), multiple) for n in padded
  )
  return size_y * len(starts_y) * size_x * len(starts_x) / (height * width)


def upscale_image(
  apply_fn: ApplyFn,
  image: np.ndarray,
  *,
  scale: int,
  tile: int = 0,
  tile_pad: int = 16,
  batch_tiles: int = 1,
  size_multiple: int | None = None,
  progress: bool = False,
) -> np.ndarray:
  """Super-resolves one HWC image with `apply_fn`, whole or in blended overlapping tiles.

  Args:
    apply_fn: [N, h, w, C] float32 -> [N, h*scale, w*scale, C'] (jit it once and reuse it: all windows of an image
      share one shape [batch_tiles, h, w, C], so each image size compiles once).
    image: HWC float in [0, 1].
    scale: the network's upscaling factor.
    tile: largest core tile in input pixels; 0 runs the whole image in one call.
    tile_pad: context pixels each tile gets on each side (neighbouring windows overlap by at least twice that).
    batch_tiles: windows per `apply_fn` call (the last batch is filled with repeats of its last window).
    size_multiple: input H and W must be multiples of this (RRDBNet: 4 // scale, the default for scale 1, 2, 4); the
      image is reflect-padded at the bottom/right to a multiple and the output cropped back, and window sizes and
      starts are multiples too, so windows see the same pixel grouping as the whole image.
    progress: show a tqdm bar over the windows.

  Returns:
    [H*scale, W*scale, C'] float32, not clipped (a view of a buffer padded to `size_multiple`).
  """
  if image.ndim != 3:
    raise ValueError(f'upscale_image expects an HWC image, got shape {image.shape}.')
  if tile < 0 or tile_pad < 0 or batch_tiles < 1:
    raise ValueError(f'need tile >= 0, tile_pad >= 0 and batch_tiles >= 1, got {tile}, {tile_pad}, {batch_tiles}.')
  multiple = size_multiple or max(1, 4 // scale)
  h, w = image.shape[:2]
  padded = np.pad(
    image.astype(np.float32, copy=False),
    ((0, _round_up(h, multiple) - h), (0, _round_up(w, multiple) - w), (0, 0)),
    mode='reflect',
  )
  if tile == 0:
    return np.asarray(apply_fn(padded[None]), np.float32)[0, : h * scale, : w * scale]
  tile, tile_pad = _round_up(tile, multiple), _round_up(tile_pad, multiple)
  layouts = [window_layout(n, tile, tile_pad, multiple) for n in padded.shape[:2]]
  (size_y, starts_y), (size_x, starts_x) = layouts
  weights = [_blend_weights(size, starts, scale, tile_pad) for size, starts in layouts]
  windows = list(itertools.product(range(len(starts_y)), range(len(starts_x))))
  out = None
  with tqdm.tqdm(total=len(windows), desc='tiles', unit='tile', leave=False, disable=not progress) as bar:
    for first in range(0, len(windows), batch_tiles):
      chunk = windows[first : first + batch_tiles]
      crops = [padded[starts_y[i] : starts_y[i] + size_y, starts_x[j] : starts_x[j] + size_x] for i, j in chunk]
      crops += crops[-1:] * (batch_tiles - len(chunk))
      result = np.asarray(apply_fn(np.stack(crops)))
      if out is None:
        out = np.zeros((padded.shape[0] * scale, padded.shape[1] * scale, result.shape[-1]), np.float32)
      for (i, j), tile_out in zip(chunk, result):
        y, x = starts_y[i] * scale, starts_x[j] * scale
        weight = weights[0][i][:, None, None] * weights[1][j][None, :, None]
        out[y : y + size_y * scale, x : x + size_x * scale] += weight * tile_out
      bar.update(len(chunk))
  return out[: h * scale, : w * scale]
