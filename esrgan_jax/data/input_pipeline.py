"""The tf.data training stream: random LR/HR patches of a data config (sources in `sources`, `record_sources`).

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
(Real-ESRGAN). Each process reads a disjoint shard (see `sources.shard` and
`record_sources`).

Unreadable, empty or too-small images are skipped with a warning naming the
file when the dataset is created (a header check; streamed sources read every
record once for it). An image that only fails when decoded later is logged and
replaced by the next readable one (a streamed record is dropped with a logged
warning), so no batch holds NaNs and a long run does not die on one file.
Whole validation images are in `val_images`.
"""

import jax
import ml_collections
import numpy as np
from absl import logging

from esrgan_jax.data import quiet_tensorflow, record_sources, sources
from esrgan_jax.data.image_io import ImageReadError
from esrgan_jax.data.imresize_tf import imresize_tf
from esrgan_jax.data.sources import ImageSet

tf = quiet_tensorflow.import_tensorflow()


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

  def __init__(self, image_sets: list[ImageSet], sizes: list[int], multipliers: list[int]):
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
  indices: tf.data.Dataset, sets: list[ImageSet], seed: tf.Tensor, scale: int, gt_size: int, num_parallel_calls: int
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
  the stream from 0. See the module docstring for sources, sharding and bad files. `data`, `gt_size` and
  `global_batch_size` are a stage's as `esrgan_jax.training.config_checks` accepts them.
  """
  quiet_tensorflow.keep_accelerators_for_jax()
  process_index = jax.process_index() if process_index is None else process_index
  process_count = jax.process_count() if process_count is None else process_count
  if start_step < 0:
    raise ValueError(f'start_step must be >= 0, got {start_step}.')
  local_batch = global_batch_size // process_count
  start_index = start_step * local_batch
  parallel = tf.data.AUTOTUNE if data.num_parallel_calls == -1 else data.num_parallel_calls
  stream_seed = tf.constant([seed, process_index], tf.int64)
  indices = tf.data.Dataset.range(start_index, tf.int64.max)

  if data.source in ('tfds', 'tfrecord'):
    records = record_sources.process_records(data, process_index, process_count)
    usable, names, images = record_sources.scan_records(records, gt_size, decode=data.cache)
    if not names:
      where = data.tfds_name if data.source == 'tfds' else data.tfrecord_pattern
      raise ValueError(f'No usable training records in {where} (see the warnings above).')
    if data.cache:
      elements = _indexed_elements(indices, [sources.cached_set(names, images)], stream_seed, scale, gt_size, parallel)
    else:
      elements = _streamed_elements(start_index, records, usable, stream_seed, gt_size, data.shuffle_buffer, parallel)
  elif data.source == 'paired':
    sets = list(sources.paired_sets(data, scale, gt_size, process_index, process_count))
    elements = _indexed_elements(indices, sets, stream_seed, scale, gt_size, parallel)
  else:
    build = sources.demo_set if data.source == 'demo' else sources.folder_set
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
