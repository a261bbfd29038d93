"""The record sources ('tfds', 'tfrecord'): a tf.data dataset of (encoded image, name) in a fixed order, this
process's share of it, and the check of every record that finds the usable ones.

Each process reads a disjoint shard: TFRecord shards by stride over the files, TFDS through
`tfds.split_for_jax_process`. Unreadable, empty or too-small images are skipped with a warning naming the record.
"""

import ml_collections
from absl import logging

from esrgan_jax.data import quiet_tensorflow, storage
from esrgan_jax.data.image_io import ImageReadError, decode_image_raw, to_rgb
from esrgan_jax.data.records import parse_record
from esrgan_jax.data.sources import header_size

tf = quiet_tensorflow.import_tensorflow()


def tfds_records(
  data: ml_collections.ConfigDict, split: str, *, process_index: int | None = None, process_count: int | None = None
) -> tf.data.Dataset:
  """(encoded `data.tfds_image_key`, tfds_id) of the TFDS `split`; with `process_count`, this process's part."""
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


def tfrecord_files(pattern: str) -> list[str]:
  """The shards `pattern` matches (a URL too: gs://bucket/train-*.tfrecord); ValueError if none."""
  files = storage.glob(pattern)
  if not files:
    raise ValueError(
      f'data.tfrecord_pattern = {pattern!r} matches no files; write shards with '
      f'`python -m esrgan_jax.prepare --format tfrecord`.'
    )
  return files


def tfrecord_records(files: list[str]) -> tf.data.Dataset:
  """Records of `files`, round-robin over the files (fixed order)."""
  return (
    tf.data.Dataset.from_tensor_slices(files)
    .interleave(tf.data.TFRecordDataset, cycle_length=len(files), block_length=1)
    .map(parse_record)
  )


def process_records(data: ml_collections.ConfigDict, process_index: int, process_count: int) -> tf.data.Dataset:
  """This process's records of the training source `data` ('tfds' or 'tfrecord')."""
  if data.source == 'tfds':
    return tfds_records(data, data.tfds_split, process_index=process_index, process_count=process_count)
  files = tfrecord_files(data.tfrecord_pattern)
  if len(files) < process_count:
    raise ValueError(
      f'{data.tfrecord_pattern} has {len(files)} shards, fewer than the {process_count} '
      'processes; rewrite them with prepare --num-shards >= the process count.'
    )
  return tfrecord_records(files[process_index::process_count])


def scan_records(records: tf.data.Dataset, gt_size: int, decode: bool) -> tuple[list[bool], list[str], list]:
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
      ok = header_size(data, name, gt_size) is not None
    usable.append(ok)
    if ok:
      names.append(name)
  return usable, names, images
