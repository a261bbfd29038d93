"""tf.data pipelines: random LR/HR training patches and whole validation images.

Training elements are drawn by their index in this process's stream, so a
resumed run (`start_step`) sees exactly the batches it would have seen, without
decoding the skipped ones:

* random-access sources ('demo', 'folder', 'paired', and 'tfds'/'tfrecord' with
  `cache`): element i is image `perm_e(i mod n)` of epoch e = i // n, with a
  fresh stateless permutation per epoch;
* streamed sources ('tfds'/'tfrecord' without `cache`): the encoded records of
  each epoch pass a shuffle buffer seeded by the epoch; resuming skips whole
  epochs by arithmetic and reads (never decodes) the rest of the current one.

Crop position and the 8-way dihedral augmentation (hflip, vflip, transpose,
identical on HR and LR) come from stateless randoms of (seed, process, index).
LR is MATLAB bicubic (`imresize_tf`) of the HR crop, rounded to 8-bit levels
like MATLAB's uint8 output; the 'paired' source crops LR from its own files
instead. With `degradation` 'realesrgan' there is no LR: batches hold the GT
crops and their example indices, and the jitted train step degrades them
(Real-ESRGAN). Each process reads a disjoint shard: folders and demo images by
stride over the sorted list, TFRecord shards by stride over the files, TFDS
through `tfds.split_for_jax_process`.

Unreadable, empty or too-small images are skipped with a warning naming the
file when the dataset is created (a header check; streamed sources read every
record once for it). An image that only fails when decoded later is logged and
replaced by the next readable one (a streamed record is dropped with a logged
warning), so no batch holds NaNs and a long run does not die on one file.
"""

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path

import jax
import ml_collections
import numpy as np
from absl import logging

from esrgan_jax.data import demo_data, quiet_tensorflow, storage
from esrgan_jax.data.image_io import (
  IMAGE_EXTENSIONS,
  ImageReadError,
  decode_image_raw,
  list_images,
  read_image_raw,
  read_image_size,
  to_rgb,
)
from esrgan_jax.data.imresize import imresize, modcrop
from esrgan_jax.data.imresize_tf import imresize_tf
from esrgan_jax.data.quantize import to_uint8
from esrgan_jax.data.records import parse_record

tf = quiet_tensorflow.import_tensorflow()

SOURCES = ('demo', 'folder', 'paired', 'tfds', 'tfrecord')
DEGRADATIONS = ('bicubic', 'realesrgan')  # how the LR inputs are made (data.degradation)


def keep_accelerators_for_jax() -> None:
  """Hides GPUs from TensorFlow, which only runs tf.data here, so JAX gets all of their memory. Call it before TF
  touches a GPU; later calls (TF already initialised) change nothing."""
  try:
    tf.config.set_visible_devices([], 'GPU')
  except RuntimeError:  # devices already initialised: too late to hide them, and nothing else to do
    pass


def validate_batch_config(global_batch_size: int, device_count: int, process_count: int) -> None:
  """Raises ValueError unless the global batch splits evenly over devices and processes."""
  if global_batch_size < 1:
    raise ValueError(f'The global batch size must be >= 1, got {global_batch_size}.')
  if global_batch_size % device_count:
    raise ValueError(
      f'The global batch size {global_batch_size} is not divisible by the {device_count} devices; '
      f'use a multiple of {device_count}.'
    )
  if global_batch_size % process_count:
    raise ValueError(
      f'The global batch size {global_batch_size} is not divisible by the {process_count} '
      f'processes; use a multiple of {process_count}.'
    )


def validate_data_config(data: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming a bad `source` or `degradation` of a data config."""
  if data.source not in SOURCES:
    raise ValueError(f'data.source = {data.source!r}; choose one of {", ".join(SOURCES)}.')
  if data.degradation not in DEGRADATIONS:
    raise ValueError(f'data.degradation = {data.degradation!r}; choose one of {", ".join(DEGRADATIONS)}.')
  if data.degradation == 'realesrgan' and data.source == 'paired':
    raise ValueError(
      "data.degradation = 'realesrgan' synthesises the LR images, but data.source = 'paired' reads them from lr_dir; "
      "use source 'folder' with the HR images, or degradation 'bicubic' to train on the pairs."
    )


# ----------------------------------------------------------------------------------------------------------------
# Random-access image sets.


@dataclasses.dataclass
class _ImageSet:
  """This process's images: names, (H, W) sizes and a loader of uint8/uint16 HW3 pixels by index."""

  names: list[str]
  sizes: np.ndarray  # [n, 2] int64
  load: Callable[[int], np.ndarray]


def _cached_set(names: list[str], images: list[np.ndarray]) -> _ImageSet:
  return _ImageSet(names, np.array([x.shape[:2] for x in images], np.int64).reshape(-1, 2), images.__getitem__)


def _file_sets(
  groups: list[tuple[Path, ...]], sizes: list[tuple[tuple[int, int], ...]], cache: bool
) -> list[_ImageSet]:
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
      _ImageSet(
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
  return [_cached_set(names[k], decoded[k]) for k in range(width)]


def _list_images(folder: str, field: str) -> list[Path]:
  if not folder or not Path(folder).is_dir():
    raise ValueError(f'data.{field} = {folder!r} is not a directory.')
  files = list_images(folder)
  if not files:
    raise ValueError(f'No images ({", ".join(IMAGE_EXTENSIONS)}) in {folder} (data.{field}).')
  return files


def _header_size(source: Path | bytes, name: str, min_size: int) -> tuple[int, int] | None:
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


def _shard(items: list, process_index: int, process_count: int, what: str) -> list:
  local = items[process_index::process_count]
  if not local:
    raise ValueError(f'{what} has {len(items)} usable images, fewer than the {process_count} processes.')
  return local


def _require_images(image_set: _ImageSet, what: str) -> _ImageSet:
  if not image_set.names:
    raise ValueError(f'No usable training images in {what}; every file was skipped (see the warnings above).')
  return image_set


def _folder_set(data, gt_size: int, process_index: int, process_count: int) -> _ImageSet:
  files = _list_images(data.hr_dir, 'hr_dir')
  usable = [(f, size) for f in files if (size := _header_size(f, str(f), gt_size))]
  if not usable:
    raise ValueError(
      f'No usable training images in {data.hr_dir}; all {len(files)} files were skipped (see the warnings above).'
    )
  local = _shard(usable, process_index, process_count, data.hr_dir)
  [image_set] = _file_sets([(f,) for f, _ in local], [(size,) for _, size in local], data.cache)
  return _require_images(image_set, data.hr_dir)


def _lr_match(lr_files: list[Path], scale: int) -> dict[str, Path]:
  """LR files by stem, also without DIV2K's 'x{scale}' tag ('0001x4' -> '0001', '0001x4_s001' -> '0001_s001')."""
  by_stem = {}
  for path in lr_files:
    by_stem.setdefault(path.stem.replace(f'x{scale}', '', 1), path)
  by_stem.update({p.stem: p for p in lr_files})
  return by_stem


def _paired_sets(data, scale: int, gt_size: int, process_index: int, process_count: int) -> tuple[_ImageSet, _ImageSet]:
  hr_files = _list_images(data.hr_dir, 'hr_dir')
  lr_by_stem = _lr_match(_list_images(data.lr_dir, 'lr_dir'), scale)
  pairs = []
  for hr in hr_files:
    lr = lr_by_stem.get(hr.stem)
    if lr is None:
      logging.warning('Skipping %s: no LR image named %s.* in %s.', hr, hr.stem, data.lr_dir)
      continue
    hr_size, lr_size = _header_size(hr, str(hr), gt_size), _header_size(lr, str(lr), gt_size // scale)
    if hr_size is None or lr_size is None:
      continue
    if hr_size != (lr_size[0] * scale, lr_size[1] * scale):
      logging.warning('Skipping %s: HR %dx%d is not %d x LR %dx%d (%s).', hr, *hr_size, scale, *lr_size, lr)
      continue
    pairs.append((hr, lr, hr_size, lr_size))
  if not pairs:
    raise ValueError(f'No usable HR/LR pairs in {data.hr_dir} and {data.lr_dir}; see the warnings above.')
  local = _shard(pairs, process_index, process_count, data.hr_dir)
  hr_set, lr_set = _file_sets([p[:2] for p in local], [p[2:] for p in local], data.cache)
  return _require_images(hr_set, data.hr_dir), lr_set


def _demo_names(data, default: tuple[str, ...]) -> tuple[str, ...]:
  return tuple(data.names) or default


def _demo_set(data, gt_size: int, process_index: int, process_count: int) -> _ImageSet:
  usable = {}
  for name in _demo_names(data, demo_data.DEMO_TRAIN_NAMES):
    image = demo_data.load_demo_image(name)
    if min(image.shape[:2]) < gt_size:
      logging.warning(
        'Skipping demo image %s: %dx%d is smaller than the %d-pixel crop.', name, *image.shape[:2], gt_size
      )
    else:
      usable[name] = image
  local = _shard(list(usable), process_index, process_count, 'The demo set')
  return _cached_set(local, [usable[n] for n in local])


# ----------------------------------------------------------------------------------------------------------------
# Record sources (TFDS, TFRecord): a dataset of (encoded image, name) in a fixed order.


def _tfds_records(data, split, *, process_index: int | None = None, process_count: int | None = None):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  builder = tfds.builder(data.tfds_name, data_dir=data.tfds_data_dir or None)
  if data.tfds_image_key not in builder.info.features:
    raise ValueError(
      f'{data.tfds_name} has no feature {data.tfds_image_key!r} (data.tfds_image_key); it has '
      f'{", ".join(builder.info.features)}.'
    )
  if process_count is not None:
    split = tfds.split_for_jax_process(split, process_index=process_index, process_count=process_count)
  undecoded = {
    k: tfds.decode.SkipDecoding() for k, f in builder.info.features.items() if isinstance(f, tfds.features.Image)
  }
  ds = builder.as_dataset(
    split=split, shuffle_files=False, decoders=undecoded, read_config=tfds.ReadConfig(add_tfds_id=True)
  )
  return ds.map(lambda ex: (ex[data.tfds_image_key], ex['tfds_id']))


def _tfrecord_files(pattern: str) -> list[str]:
  files = storage.glob(pattern)  # a URL too (gs://bucket/train-*.tfrecord)
  if not files:
    raise ValueError(
      f'data.tfrecord_pattern = {pattern!r} matches no files; write shards with '
      f'`python -m esrgan_jax.prepare --format tfrecord`.'
    )
  return files


def _tfrecord_records(files: list[str]) -> tf.data.Dataset:
  """Records of `files`, round-robin over the files (fixed order)."""
  return (
    tf.data.Dataset.from_tensor_slices(files)
    .interleave(tf.data.TFRecordDataset, cycle_length=len(files), block_length=1)
    .map(parse_record)
  )


def _records(data, process_index: int, process_count: int) -> tf.data.Dataset:
  if data.source == 'tfds':
    return _tfds_records(data, data.tfds_split, process_index=process_index, process_count=process_count)
  files = _tfrecord_files(data.tfrecord_pattern)
  if len(files) < process_count:
    raise ValueError(
      f'{data.tfrecord_pattern} has {len(files)} shards, fewer than the {process_count} '
      'processes; rewrite them with prepare --num-shards >= the process count.'
    )
  return _tfrecord_records(files[process_index::process_count])


def _scan_records(records: tf.data.Dataset, gt_size: int, decode: bool) -> tuple[list[bool], list[str], list]:
  """Checks every record once: (usable mask, names, decoded HW3 pixels if `decode`)."""
  usable, names, images = [], [], []
  for data, name in records.as_numpy_iterator():
    name = name.decode()
    if decode:
      try:
        pixels = to_rgb(decode_image_raw(data, name)[0], name)
      except ImageReadError as e:
        logging.warning('Skipping %s', e)
        pixels = None
      ok = pixels is not None and min(pixels.shape[:2]) >= gt_size
      if pixels is not None and not ok:
        logging.warning('Skipping %s: %dx%d is smaller than the %d-pixel crop.', name, *pixels.shape[:2], gt_size)
      if ok:
        images.append(pixels)
    else:
      ok = _header_size(data, name, gt_size) is not None
    usable.append(ok)
    if ok:
      names.append(name)
  return usable, names, images


# ----------------------------------------------------------------------------------------------------------------
# Training stream.


def _fold(seed: tf.Tensor, *data: tf.Tensor | int) -> tf.Tensor:
  for d in data:
    seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(d, tf.int64))
  return seed


def _dihedral(image: tf.Tensor, flips: tf.Tensor) -> tf.Tensor:
  """hflip, vflip, then transpose, each where the matching bool of `flips` [3] is set."""
  image = tf.cond(flips[0], lambda: tf.reverse(image, [1]), lambda: image)
  image = tf.cond(flips[1], lambda: tf.reverse(image, [0]), lambda: image)
  return tf.cond(flips[2], lambda: tf.transpose(image, [1, 0, 2]), lambda: image)


def _crop_randoms(
  seed: tf.Tensor, index: tf.Tensor, height: tf.Tensor, width: tf.Tensor, size: int
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """(top, left) of a uniform `size` crop in an HxW image and the 3 augmentation bools of element `index`."""
  u = tf.random.stateless_uniform([5], _fold(seed, 1, index), dtype=tf.float64)
  top = tf.cast(tf.floor(u[0] * tf.cast(height - size + 1, tf.float64)), tf.int64)
  left = tf.cast(tf.floor(u[1] * tf.cast(width - size + 1, tf.float64)), tf.int64)
  return top, left, u[2:] < 0.5


class _CropReader:
  """Crops image sets by index (numpy side of the graph); a file that fails to decode is logged and replaced.

  Crop windows are given on the grid of the last set (LR for paired sets); set k is cropped at
  `multipliers[k]` times that position with `sizes[k]` pixels.
  """

  def __init__(self, image_sets: list[_ImageSet], sizes: list[int], multipliers: list[int]):
    self._sets, self._sizes, self._multipliers = image_sets, sizes, multipliers
    self._bad: set[int] = set()

  def _crop(self, index: int, top: int, left: int) -> list[np.ndarray]:
    grid_h, grid_w = self._sets[-1].sizes[index]
    top, left = min(top, grid_h - self._sizes[-1]), min(left, grid_w - self._sizes[-1])  # For a substitute.
    crops = []
    for image_set, size, multiplier in zip(self._sets, self._sizes, self._multipliers):
      y, x = top * multiplier, left * multiplier
      crop = image_set.load(index)[y : y + size, x : x + size]
      if crop.shape[:2] != (size, size):
        raise ImageReadError(f'{image_set.names[index]}: decoded size differs from its header.')
      crops.append(crop.astype(np.float32) / np.float32(np.iinfo(crop.dtype).max))
    return crops

  def __call__(self, index: np.int64, top: np.int64, left: np.int64) -> list[np.ndarray]:
    n = len(self._sets[0].names)
    for k in range(n):
      candidate = (int(index) + k) % n
      if candidate in self._bad:
        continue
      try:
        return self._crop(candidate, int(top), int(left))
      except ImageReadError as e:
        self._bad.add(candidate)
        logging.error('%s; training on another image in its place.', e)
    raise ValueError('None of the training images can be decoded; see the errors above.')


def _indexed_elements(
  indices: tf.data.Dataset, sets: list[_ImageSet], seed: tf.Tensor, scale: int, gt_size: int, num_parallel_calls: int
) -> tf.data.Dataset:
  """(HR crop, LR crop) elements of random-access images; the LR crop is an empty placeholder unless paired."""
  paired = len(sets) == 2
  n = len(sets[0].names)
  crop_set = sets[-1]  # Paired crops are drawn on the LR grid.
  crop_size = gt_size // scale if paired else gt_size
  sizes = tf.constant(crop_set.sizes)
  reader = _CropReader(sets, [gt_size, gt_size // scale] if paired else [gt_size], [scale, 1] if paired else [1])

  def element(index):
    epoch, position = index // n, index % n
    image = tf.random.experimental.index_shuffle(position, _fold(seed, 0, epoch), tf.constant(n - 1, tf.int64))
    top, left, flips = _crop_randoms(seed, index, sizes[image, 0], sizes[image, 1], crop_size)
    crops = tf.numpy_function(reader, [image, top, left], [tf.float32] * len(sets), stateful=False)
    hr = tf.ensure_shape(crops[0], [gt_size, gt_size, 3])
    lr = tf.ensure_shape(crops[1], [gt_size // scale, gt_size // scale, 3]) if paired else None
    return _dihedral(hr, flips), (_dihedral(lr, flips) if paired else tf.zeros([0]))

  return indices.map(element, num_parallel_calls=num_parallel_calls)


def _streamed_elements(
  start_index: int,
  records: tf.data.Dataset,
  usable: list[bool],
  seed: tf.Tensor,
  gt_size: int,
  shuffle_buffer: int,
  num_parallel_calls: int,
) -> tf.data.Dataset:
  """HR crops of records decoded in the graph; epochs shuffled by a buffer seeded per epoch."""
  n = sum(usable)
  usable = tf.constant(usable)
  kept = records.enumerate().filter(lambda i, record: usable[i]).map(lambda i, record: record)
  first_epoch, first_offset = start_index // n, start_index % n

  def epoch(e):
    shuffle_seed = tf.random.stateless_uniform([], _fold(seed, 2, e), minval=None, dtype=tf.int64)
    skip = tf.where(e == first_epoch, tf.constant(first_offset, tf.int64), tf.constant(0, tf.int64))
    return kept.shuffle(shuffle_buffer, seed=shuffle_seed).skip(skip)

  def element(index, record):
    image = tf.io.decode_image(record[0], channels=3, dtype=tf.float32, expand_animations=False)
    top, left, flips = _crop_randoms(seed, index, tf.shape(image, tf.int64)[0], tf.shape(image, tf.int64)[1], gt_size)
    hr = tf.ensure_shape(image[top : top + gt_size, left : left + gt_size], [gt_size, gt_size, 3])
    return _dihedral(hr, flips), tf.zeros([0])

  epochs = tf.data.Dataset.range(first_epoch, tf.int64.max).flat_map(epoch)
  # A record that passes the header check but fails to decode is dropped with a logged warning.
  return (
    tf.data.Dataset.zip(tf.data.Dataset.range(start_index, tf.int64.max), epochs)
    .map(element, num_parallel_calls=num_parallel_calls)
    .ignore_errors(log_warning=True)
  )


def create_train_dataset(
  data: ml_collections.ConfigDict,
  *,
  scale: int,
  gt_size: int,
  global_batch_size: int,
  seed: int,
  start_step: int = 0,
  process_index: int | None = None,
  process_count: int | None = None,
) -> tf.data.Dataset:
  """Infinite stream of {'lr': float32 [B, gt/scale, gt/scale, 3], 'hr': float32 [B, gt, gt, 3]} in [0, 1]; with
  `data.degradation` 'realesrgan', {'hr', 'index': int32 [B]} instead: GT patches and their global example indices
  (position in this process's stream * process_count + process_index), from which the step draws the degradation.

  B = global_batch_size // process_count is this process's part of the global batch. Batches are a
  function of (data, seed, process): the stream from `start_step` = k equals batches k, k+1, ... of
  the stream from 0. See the module docstring for sources, sharding and bad files.
  """
  keep_accelerators_for_jax()
  process_index = jax.process_index() if process_index is None else process_index
  process_count = jax.process_count() if process_count is None else process_count
  validate_data_config(data)
  if gt_size < scale or gt_size % scale:
    raise ValueError(f'gt_size {gt_size} must be a positive multiple of the scale {scale}.')
  if global_batch_size < 1 or global_batch_size % process_count:
    raise ValueError(
      f'The global batch size {global_batch_size} is not a positive multiple of the {process_count} processes.'
    )
  if start_step < 0:
    raise ValueError(f'start_step must be >= 0, got {start_step}.')
  local_batch = global_batch_size // process_count
  start_index = start_step * local_batch
  parallel = tf.data.AUTOTUNE if data.num_parallel_calls == -1 else data.num_parallel_calls
  stream_seed = tf.constant([seed, process_index], tf.int64)
  indices = tf.data.Dataset.range(start_index, tf.int64.max)

  if data.source in ('tfds', 'tfrecord'):
    records = _records(data, process_index, process_count)
    usable, names, images = _scan_records(records, gt_size, decode=data.cache)
    if not names:
      where = data.tfds_name if data.source == 'tfds' else data.tfrecord_pattern
      raise ValueError(f'No usable training records in {where} (see the warnings above).')
    if data.cache:
      elements = _indexed_elements(indices, [_cached_set(names, images)], stream_seed, scale, gt_size, parallel)
    else:
      elements = _streamed_elements(start_index, records, usable, stream_seed, gt_size, data.shuffle_buffer, parallel)
  elif data.source == 'paired':
    sets = list(_paired_sets(data, scale, gt_size, process_index, process_count))
    elements = _indexed_elements(indices, sets, stream_seed, scale, gt_size, parallel)
  else:
    build = _demo_set if data.source == 'demo' else _folder_set
    elements = _indexed_elements(
      indices, [build(data, gt_size, process_index, process_count)], stream_seed, scale, gt_size, parallel
    )

  if data.degradation == 'realesrgan':  # GT patches only; the train step degrades them (steps.degraded_batch)

    def gt_only(position, element):
      return {'hr': element[0], 'index': tf.cast(position * process_count + process_index, tf.int32)}

    batches = elements.enumerate(start_index).map(gt_only).batch(local_batch, drop_remainder=True)
    return batches.prefetch(tf.data.AUTOTUNE)

  def with_lr(hr, lr):
    if data.source != 'paired':  # MATLAB bicubic, rounded to 8-bit levels as `quantize.to_uint8` does.
      lr = tf.floor(tf.clip_by_value(imresize_tf(hr, 1 / scale), 0, 1) * 255 + 0.5) / 255
    return {'lr': lr, 'hr': hr}

  batches = elements.batch(local_batch, drop_remainder=True).map(with_lr, num_parallel_calls=parallel)
  return batches.prefetch(tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------------------------------------------
# Validation images.


def _val_example(name: str, hr_pixels: np.ndarray, scale: int) -> dict | None:
  """{'name', 'hr', 'lr'}: HR modcropped, LR = imresize in float64 rounded to 8-bit levels (as MATLAB)."""
  hr = modcrop(to_rgb(hr_pixels, name).astype(np.float64) / np.iinfo(hr_pixels.dtype).max, scale)
  if 0 in hr.shape:
    logging.warning('Skipping %s: smaller than the scale %d.', name, scale)
    return None
  lr = to_uint8(imresize(hr, 1 / scale)) / 255
  return {'name': name, 'lr': lr.astype(np.float32), 'hr': hr.astype(np.float32)}


def _image_id(path: Path, root: str) -> str:
  """A file name for outputs: the path under `root` without extension, '/' -> '_' ('sub/0801.png' -> 'sub_0801')."""
  return path.relative_to(root).with_suffix('').as_posix().replace('/', '_')


def _read_or_skip(path: Path) -> np.ndarray | None:
  try:
    return read_image_raw(path)[0]
  except ImageReadError as e:
    logging.warning('Skipping %s', e)
    return None


def create_val_images(data: ml_collections.ConfigDict, *, scale: int) -> list[dict]:
  """Whole validation images [{'name': str, 'lr': float32 HW3, 'hr': float32 HW3}], in [0, 1].

  'name' can name output files: the demo image name, the path under hr_dir without extension
  ('/' -> '_'), the TFDS tfds_id, or the TFRecord sub-image name.

  HR is modcropped to the scale and LR = imresize(HR, 1/scale) computed in numpy float64, then rounded
  to 8-bit levels as MATLAB's uint8 output is (floor(x * 255 + 0.5) / 255, clipped). For 'paired', LR
  is read from its file and HR cropped to LR size x scale. Every process gets the full list (not sharded).
  """
  keep_accelerators_for_jax()
  if data.source not in SOURCES:
    raise ValueError(f'data.source = {data.source!r}; choose one of {", ".join(SOURCES)}.')
  examples = []
  if data.source == 'demo':
    for name in _demo_names(data, demo_data.DEMO_VAL_NAMES):
      examples.append(_val_example(name, demo_data.load_demo_image(name), scale))
  elif data.source == 'folder':
    for path in _list_images(data.hr_dir, 'hr_dir'):
      pixels = _read_or_skip(path)
      examples.append(None if pixels is None else _val_example(_image_id(path, data.hr_dir), pixels, scale))
  elif data.source == 'paired':
    lr_by_stem = _lr_match(_list_images(data.lr_dir, 'lr_dir'), scale)
    for hr_path in _list_images(data.hr_dir, 'hr_dir'):
      lr_path = lr_by_stem.get(hr_path.stem)
      if lr_path is None:
        logging.warning('Skipping %s: no LR image named %s.* in %s.', hr_path, hr_path.stem, data.lr_dir)
        continue
      hr_pixels, lr_pixels = _read_or_skip(hr_path), _read_or_skip(lr_path)
      if hr_pixels is None or lr_pixels is None:
        continue
      lr = to_rgb(lr_pixels, str(lr_path)).astype(np.float32) / np.iinfo(lr_pixels.dtype).max
      hr = to_rgb(hr_pixels, str(hr_path)).astype(np.float32) / np.iinfo(hr_pixels.dtype).max
      if hr.shape[0] < lr.shape[0] * scale or hr.shape[1] < lr.shape[1] * scale:
        logging.warning(
          'Skipping %s: HR %dx%d is smaller than %d x LR %dx%d.', hr_path, *hr.shape[:2], scale, *lr.shape[:2]
        )
        continue
      examples.append(
        {'name': _image_id(hr_path, data.hr_dir), 'lr': lr, 'hr': hr[: lr.shape[0] * scale, : lr.shape[1] * scale]}
      )
  else:
    records = (
      _tfds_records(data, data.tfds_split)
      if data.source == 'tfds'
      else _tfrecord_records(_tfrecord_files(data.tfrecord_pattern))
    )
    for encoded, name in records.as_numpy_iterator():
      name = name.decode() if data.source == 'tfds' else Path(name.decode()).stem  # tfds_id, or a sub-image name.
      try:
        examples.append(_val_example(name, decode_image_raw(encoded, name)[0], scale))
      except ImageReadError as e:
        logging.warning('Skipping %s', e)
  examples = [e for e in examples if e is not None]
  if not examples:
    raise ValueError(f'No usable validation images for data.source = {data.source!r} (see the warnings above).')
  return examples
