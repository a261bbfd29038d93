"""Local paths and URLs through `storage`: the URL cases on a local GCS emulator (tests/helpers.py `fake_gcs`)."""

import os

import helpers
import numpy as np
import pytest

from esrgan_jax.data import image_io, storage
from esrgan_jax.training import history_log
from esrgan_jax.weights import model_io


@pytest.fixture(scope='module')
def gcs():
  with helpers.gcs_in_this_process() as bucket:
    yield bucket


def test_urls_stay_urls_and_local_paths_expand_the_home_folder():
  assert os.fspath(storage.path('gs://bucket/run/psnr')) == 'gs://bucket/run/psnr'
  assert storage.is_url('gs://bucket/run') and not storage.is_url('/tmp/run')
  assert os.fspath(storage.path('~/run')) == os.path.expanduser('~/run')
  assert os.fspath(storage.bucket('gs://bucket/run/psnr')) == os.fspath(storage.bucket('gs://bucket')) == 'gs://bucket'


def test_glob_matches_local_files_and_objects(tmp_path, gcs):
  for name in ('train-0.tfrecord', 'train-1.tfrecord', 'val-0.tfrecord'):
    (tmp_path / name).write_text('x')
    storage.path(f'{gcs}/shards/{name}').write_text('x')
  assert storage.glob(str(tmp_path / 'train-*.tfrecord')) == [str(tmp_path / f'train-{i}.tfrecord') for i in (0, 1)]
  assert storage.glob(f'{gcs}/shards/train-*.tfrecord') == [f'{gcs}/shards/train-{i}.tfrecord' for i in (0, 1)]
  assert storage.glob(f'{gcs}/shards/val-0.tfrecord') == [f'{gcs}/shards/val-0.tfrecord']
  assert storage.glob(f'{gcs}/missing/*.tfrecord') == []


def test_append_text_on_an_object_store_keeps_what_was_there(gcs):
  storage.append_text(f'{gcs}/log.jsonl', 'a\n')
  storage.append_text(f'{gcs}/log.jsonl', 'b\n')
  assert storage.path(f'{gcs}/log.jsonl').read_text() == 'a\nb\n'


def test_history_on_an_object_store_drops_the_steps_after_a_resume(gcs):
  path = f'{gcs}/psnr/history.jsonl'
  storage.path(path).write_text(''.join(f'{{"step": {s}}}\n' for s in (1, 2, 3)) + '{"step": 4')  # cut short
  log = history_log.open_for_append(path, resumed_step=2)
  log.write('{"step": 3, "new": true}\n')
  log.flush()
  assert storage.path(path).read_text() == '{"step": 1}\n{"step": 2}\n{"step": 3, "new": true}\n'
  log.close()


def test_generator_files_and_images_go_to_urls(gcs):
  module, params = helpers.tiny_generator(scale=4)
  model_io.save_generator(f'{gcs}/run/generator.msgpack', module, params)
  loaded_module, loaded = model_io.load_generator(f'{gcs}/run/generator.msgpack')
  assert loaded_module == module
  helpers.assert_trees_equal(params, loaded)
  image = helpers.images((5, 7, 3))
  image_io.write_image(f'{gcs}/run/samples/x.png', image)
  local = np.asarray(image_io.decode_image_raw(storage.path(f'{gcs}/run/samples/x.png').read_bytes(), 'x.png')[0])
  np.testing.assert_array_equal(local, np.round(image * 255))
