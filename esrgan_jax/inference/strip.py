"""Image strips: panels side by side with white gaps (`side_by_side`, also the ablation's strip), and the captioned
strip of docs/realesrgan.md: an LR input, then the SR outputs of several methods, each with its NIQE.

numpy and Pillow (no JAX, no TensorFlow). The LR panel is shown `scale` times larger by pixel repetition, so
every panel has the SR size.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from esrgan_jax.data import image_io
from esrgan_jax.inference import niqe

CAPTION_HEIGHT = 28  # pixels of white under each panel for its caption
GAP = 8  # white pixels between panels


def niqe_or_none(image: np.ndarray) -> float | None:
  """NIQE of a uint8 HW3 image, or None when it has fewer whole 96x96 blocks than NIQE needs."""
  if niqe.num_blocks(*image.shape[:2]) < niqe.MIN_BLOCKS:
    return None
  return niqe.niqe(image)


def caption(label: str, score: float | None) -> str:
  return f'{label}: NIQE {score:.2f}' if score is not None else label


def side_by_side(panels: Sequence[np.ndarray], gap: int) -> np.ndarray:
  """Panels [H, W, C] of one height, left to right with `gap` white columns between them (255 for uint8 panels,
  1.0 for float ones in [0, 1]); the dtype is numpy's common one of the panels."""
  dtype = np.result_type(*panels)
  white = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1.0
  blank = np.full((panels[0].shape[0], gap, panels[0].shape[2]), white, dtype)
  return np.concatenate([part for panel in panels for part in (panel, blank)][:-1], axis=1)


def image_strip(lr: np.ndarray, outputs: Mapping[str, np.ndarray], scale: int) -> tuple[np.ndarray, dict[str, float]]:
  """(uint8 strip, {label: NIQE}) of LR input | each output. lr: uint8 [h, w, 3]; outputs: {label: uint8
  [h * scale, w * scale, 3]} in strip order. Each panel is captioned with its label and NIQE (lower is better; the LR
  input's only if it is large enough to score)."""
  size = (lr.shape[0] * scale, lr.shape[1] * scale)
  wrong = {label: img.shape for label, img in outputs.items() if img.shape[:2] != size or img.dtype != np.uint8}
  if wrong:
    raise ValueError(f'Every output must be uint8 {size[0]}x{size[1]} (the LR size x {scale}), got {wrong}.')
  lr_label = f'LR input {lr.shape[0]}x{lr.shape[1]} (shown x{scale})'
  panels = {lr_label: lr.repeat(scale, 0).repeat(scale, 1), **outputs}
  scores = {label: niqe_or_none(img) for label, img in [(lr_label, lr), *outputs.items()]}
  row = side_by_side(list(panels.values()), GAP)
  canvas = Image.new('RGB', (row.shape[1], size[0] + CAPTION_HEIGHT), 'white')
  canvas.paste(Image.fromarray(row), (0, 0))
  draw, font = ImageDraw.Draw(canvas), ImageFont.load_default(size=14)
  for i, label in enumerate(panels):
    draw.text((i * (size[1] + GAP) + 4, size[0] + 6), caption(label, scores[label]), fill='black', font=font)
  return np.asarray(canvas), {label: score for label, score in scores.items() if score is not None}


def write_strip(path: str | Path, lr: np.ndarray, outputs: Mapping[str, np.ndarray], scale: int) -> dict[str, float]:
  """Writes `image_strip` as a PNG at `path`; returns its {label: NIQE}."""
  strip, scores = image_strip(lr, outputs, scale)
  image_io.write_image(path, strip / 255.0)  # atomic, and to a URL too
  return scores
