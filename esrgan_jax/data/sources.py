"""The data sources a config names, and this process's share of the random-access ones ('demo', 'folder', 'paired')
as image sets: names, (H, W) sizes from the headers and a loader by index. No TensorFlow here; the record sources
('tfds', 'tfrecord') are in `record_sources`.

Unreadable, empty or too-small images are skipped with a warning naming the file (a header check). HR and LR files
of the 'paired' source pair by stem (`pair_by_stem`), DIV2K's 'x{scale}' LR tag ignored; an HR file without an LR
file is skipped with a warning. Each process takes every process_count-th image of the sorted list (`shard`).
"""

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path

import ml_collections
import numpy as np
from absl import logging

from esrgan_jax.data import demo_data
from esrgan_jax.data.image_io import (
  IMAGE_EXTENSIONS,
  ImageReadError,
  list_images,
  read_image_raw,
  read_image_size,
  to_rgb,
)

SOURCES = ('demo', 'folder', 'paired', 'tfds', 'tfrecord')  # data.source
DEGRADATIONS = ('bicubic', 'realesrgan')  # how the LR inputs are made (data.degradation)


@dataclasses.dataclass
class ImageSet:
  """This process's images: names, (H, W) sizes and a loader of uint8/uint16 HW3 pixels by index."""

  names: list[str]
  sizes: np.ndarray  # [n, 2] int64
  load: Callable[[int], np.ndarray]


def cached_set(names: list[str], images: list[np.ndarray]) -> ImageSet:
  """An image set of decoded HW3 `images`."""
  return ImageSet(names, np.array([x.shape[:2] for x in images], np.int64).reshape(-1, 2), images.__getitem__)


def _file_sets(groups: list[tuple[Path, ...]], sizes: list[tuple[tuple[int, int], ...]], cache: bool) -> list[ImageSet]:
  """One image set per group member (HR, or HR and LR): read on every access, or decoded now when `cache`.

  Decoding now skips, with a warning, every group with a member that fails to decode. Gray or alpha
  images are warned about once.
  """
  width = len(groups[0])
  if not cache:
    warned = set()

    def load(i: int, k: int) -> np.ndarray:
      path = groups[i][k]
      pixels = to_rgb(read_image_raw(path)[0], str(path), warn=path not in warned)
      warned.add(path)
      return pixels

    return [
      ImageSet(
        [str(g[k]) for g in groups],
        np.array([s[k] for s in sizes], np.int64).reshape(-1, 2),
        functools.partial(load, k=k),
      )
      for k in range(width)
    ]
  names, decoded = [[] for _ in range(width)], [[] for _ in range(width)]
  for group in groups:
    try:
      pixels = [to_rgb(read_image_raw(path)[0], str(path)) for path in group]
    except ImageReadError as e:
      logging.warning('Skipping %s', e)
      continue
    for k in range(width):
      names[k].append(str(group[k]))
      decoded[k].append(pixels[k])
  return [cached_set(names[k], decoded[k]) for k in range(width)]


def images_in(folder: str, field: str) -> list[Path]:
  """The image files under `folder` (`data.<field>`), sorted; ValueError if it is no folder or holds none."""
  if not folder or not Path(folder).is_dir():
    raise ValueError(f'data.{field} = {folder!r} is not a directory.')
  files = list_images(folder)
  if not files:
    raise ValueError(f'No images ({", ".join(IMAGE_EXTENSIONS)}) in {folder} (data.{field}).')
  return files


def pair_by_stem(data: ml_collections.ConfigDict, scale: int) -> list[tuple[Path, Path]]:
  """(HR, LR) files of the 'paired' source `data`, matched by stem; LR stems also match without DIV2K's
  'x{scale}' tag ('0001x4' -> '0001', '0001x4_s001' -> '0001_s001'). An HR file without an LR one is skipped with a
  warning."""
  hr_files, lr_files = images_in(data.hr_dir, 'hr_dir'), images_in(data.lr_dir, 'lr_dir')
  lr_by_stem = {}
  for path in lr_files:
    lr_by_stem.setdefault(path.stem.replace(f'x{scale}', '', 1), path)
  lr_by_stem.update({p.stem: p for p in lr_files})
  pairs = []
  for hr in hr_files:
    lr = lr_by_stem.get(hr.stem)
    if lr is None:
      logging.warning('Skipping %s: no LR image named %s.* in %s.', hr, hr.stem, data.lr_dir)
    else:
      pairs.append((hr, lr))
  return pairs


def header_size(source: Path | bytes, name: str, min_size: int) -> tuple[int, int] | None:
  """(H, W) from the header, or None with a warning when unreadable or smaller than `min_size`."""
  try:
    h, w = read_image_size(source, name)
  except ImageReadError as e:
    logging.warning('Skipping %s', e)
    return None
  if min(h, w) < min_size:
    logging.warning('Skipping %s: %dx%d is smaller than the %d-pixel crop.', name, h, w, min_size)
    return None
  return h, w


def shard(items: list, process_index: int, process_count: int, what: str) -> list:
  """This process's items: every process_count-th, from process_index; ValueError if there are none."""
  local = items[process_index::process_count]
  if not local:
    raise ValueError(f'{what} has {len(items)} usable images, fewer than the {process_count} processes.')
  return local


def _require_images(image_set: ImageSet, what: str) -> ImageSet:
  if not image_set.names:
    raise ValueError(f'No usable training images in {what}; every file was skipped (see the warnings above).')
  return image_set


def folder_set(data: ml_collections.ConfigDict, gt_size: int, process_index: int, process_count: int) -> ImageSet:
  """This process's images of the 'folder' source that hold a `gt_size` crop."""
  files = images_in(data.hr_dir, 'hr_dir')
  usable = [(f, size) for f in files if (size := header_size(f, str(f), gt_size))]
  if not usable:
    raise ValueError(
      f'No usable training images in {data.hr_dir}; all {len(files)} files were skipped (see the warnings above).'
    )
  local = shard(usable, process_index, process_count, data.hr_dir)
  [image_set] = _file_sets([(f,) for f, _ in local], [(size,) for _, size in local], data.cache)
  return _require_images(image_set, data.hr_dir)


def paired_sets(
  data: ml_collections.ConfigDict, scale: int, gt_size: int, process_index: int, process_count: int
) -> tuple[ImageSet, ImageSet]:
  """This process's (HR, LR) image sets of the 'paired' source: pairs whose HR is `scale` x LR and holds a
  `gt_size` crop."""
  pairs = []
  for hr, lr in pair_by_stem(data, scale):
    hr_size, lr_size = header_size(hr, str(hr), gt_size), header_size(lr, str(lr), gt_size // scale)
    if hr_size is None or lr_size is None:
      continue
    if hr_size != (lr_size[0] * scale, lr_size[1] * scale):
      logging.warning('Skipping %s: HR %dx%d is not %d x LR %dx%d (%s).', hr, *hr_size, scale, *lr_size, lr)
      continue
    pairs.append((hr, lr, hr_size, lr_size))
  if not pairs:
    raise ValueError(f'No usable HR/LR pairs in {data.hr_dir} and {data.lr_dir}; see the warnings above.')
  local = shard(pairs, process_index, process_count, data.hr_dir)
  hr_set, lr_set = _file_sets([p[:2] for p in local], [p[2:] for p in local], data.cache)
  return _require_images(hr_set, data.hr_dir), lr_set


def demo_names(data: ml_collections.ConfigDict, default: tuple[str, ...]) -> tuple[str, ...]:
  """`data.names`, or `default` (the demo's train or validation split) when empty."""
  return tuple(data.names) or default


def demo_set(data: ml_collections.ConfigDict, gt_size: int, process_index: int, process_count: int) -> ImageSet:
  """This process's demo photos that hold a `gt_size` crop, decoded."""
  usable = {}
  for name in demo_names(data, demo_data.DEMO_TRAIN_NAMES):
    image = demo_data.load_demo_image(name)
    if min(image.shape[:2]) < gt_size:
      logging.warning(
        'Skipping demo image %s: %dx%d is smaller than the %d-pixel crop.', name, *image.shape[:2], gt_size
      )
    else:
      usable[name] = image
  local = shard(list(usable), process_index, process_count, 'The demo set')
  return cached_set(local, [usable[n] for n in local])
