"""Tests for esrgan_jax.data.record_sources: TFRecord shards per process and the errors naming a bad pattern or too
few shards (the records' pixels are tested through the training stream, tests/data/test_input_pipeline.py)."""

import pytest
from helpers import data_config

from esrgan_jax.data import record_sources


def test_a_pattern_without_files_and_too_few_shards_are_errors_naming_the_fix(tmp_path):
  with pytest.raises(ValueError, match="data.tfrecord_pattern = '.*' matches no files; write shards with"):
    record_sources.tfrecord_files(str(tmp_path / '*.tfrecord'))
  for k in range(2):
    (tmp_path / f'train-{k}.tfrecord').write_bytes(b'')
  config = data_config(source='tfrecord', tfrecord_pattern=str(tmp_path / 'train-*.tfrecord'))
  assert record_sources.tfrecord_files(config.tfrecord_pattern) == [
    str(tmp_path / f'train-{k}.tfrecord') for k in (0, 1)
  ]
  with pytest.raises(ValueError, match='has 2 shards, fewer than the 3 processes; rewrite them with prepare'):
    record_sources.process_records(config, 0, 3)
