"""Tests for esrgan_jax.data.input_pipeline: alignment, augmentation, resume, sharding, each source, bad files."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from helpers import data_config, random_uint8, save_image

from esrgan_jax.data import sources
from esrgan_jax.data.imresize import imresize
from esrgan_jax.data.input_pipeline import create_train_dataset
from esrgan_jax.data.val_images import create_val_images
from esrgan_jax.prepare import prepare

SCALE, GT = 4, 16


def _batches(config, n, **kwargs):
  kwargs = {
    'scale': SCALE,
    'gt_size': GT,
    'global_batch_size': 4,
    'seed': 0,
    'process_index': 0,
    'process_count': 1,
    **kwargs,
  }
  return list(create_train_dataset(config, **kwargs).take(n).as_numpy_iterator())


def _dihedral_variants(x):
  """The 8 images hflip/vflip/transpose can make, keyed by (h, v, t) as the pipeline applies them."""
  out = {}
  for h, v, t in itertools.product([0, 1], repeat=3):
    y = x[:, ::-1] if h else x
    y = y[::-1] if v else y
    out[(h, v, t)] = np.transpose(y, (1, 0, 2)) if t else y
  return out


def _locate(patch, image, size, step=1):
  """[(top, left, transform)] where a dihedral transform of image[top:top+size, left:left+size] is `patch`."""
  hits = []
  for top in range(0, image.shape[0] - size + 1, step):
    for left in range(0, image.shape[1] - size + 1, step):
      for key, variant in _dihedral_variants(image[top : top + size, left : left + size]).items():
        if np.array_equal(variant, patch):
          hits.append((top, left, key))
  return hits


def _assert_matlab_lr(lr, hr):
  """lr == MATLAB uint8 rounding of imresize(hr, 1/SCALE), allowing float32 noise only at rounding ties."""
  exact = np.clip(np.stack([imresize(x.astype(np.float64), 1 / SCALE) for x in hr]), 0, 1) * 255
  expected = np.floor(exact + 0.5) / 255
  near_tie = np.abs(exact - np.floor(exact) - 0.5) < 1e-3
  np.testing.assert_allclose(lr[~near_tie], expected[~near_tie], atol=1e-6)
  np.testing.assert_allclose(lr, expected, atol=1 / 255 + 1e-6)


@pytest.fixture(scope='module')
def hr_folder(tmp_path_factory):
  folder = tmp_path_factory.mktemp('hr')
  for k, shape in enumerate([(40, 36, 3), (33, 47, 3), (24, 24, 3), (50, 30, 3)]):
    save_image(folder / f'img{k}.png', random_uint8(shape, k))
  return folder


@pytest.mark.parametrize('cache', [True, False])
def test_folder_crops_are_aligned_and_lr_is_matlab_bicubic(tmp_path, cache):
  image = random_uint8((40, 36, 3), 7)
  save_image(tmp_path / 'a.png', image)
  batches = _batches(data_config(source='folder', hr_dir=str(tmp_path), cache=cache), 3)
  for batch in batches:
    assert batch['hr'].shape == (4, GT, GT, 3) and batch['lr'].shape == (4, GT // SCALE, GT // SCALE, 3)
    assert batch['hr'].dtype == np.float32 and batch['lr'].dtype == np.float32
    for hr in batch['hr']:
      assert len(_locate(np.round(hr * 255).astype(np.uint8), image, GT)) == 1
    _assert_matlab_lr(batch['lr'], batch['hr'])


def test_augmentation_draws_all_eight_dihedral_transforms(tmp_path):
  image = random_uint8((GT, GT, 3), 8)  # One crop position: only the transform varies.
  save_image(tmp_path / 'a.png', image)
  batches = _batches(data_config(source='folder', hr_dir=str(tmp_path)), 2, global_batch_size=32)
  seen = {_locate(np.round(hr * 255).astype(np.uint8), image, GT)[0][2] for b in batches for hr in b['hr']}
  assert len(seen) == 8


def test_paired_crops_are_aligned_and_augmented_identically(tmp_path):
  hr_image, lr_image = random_uint8((48, 40, 3), 1), random_uint8((12, 10, 3), 2)  # Unrelated contents.
  (tmp_path / 'hr').mkdir()
  (tmp_path / 'lr').mkdir()
  save_image(tmp_path / 'hr' / '0001.png', hr_image)
  save_image(tmp_path / 'lr' / '0001x4.png', lr_image)  # DIV2K naming also matches.
  config = data_config(source='paired', hr_dir=str(tmp_path / 'hr'), lr_dir=str(tmp_path / 'lr'))
  for batch in _batches(config, 2):
    for hr, lr in zip(batch['hr'], batch['lr']):
      [(top, left, key)] = _locate(np.round(hr * 255).astype(np.uint8), hr_image, GT)
      assert top % SCALE == 0 and left % SCALE == 0
      lq = GT // SCALE
      expected = _dihedral_variants(lr_image[top // SCALE : top // SCALE + lq, left // SCALE : left // SCALE + lq])
      np.testing.assert_array_equal(np.round(lr * 255).astype(np.uint8), expected[key])


def _assert_same_batches(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x['hr'], y['hr'])
    np.testing.assert_array_equal(x['lr'], y['lr'])


@pytest.mark.parametrize('cache', [True, False])
def test_deterministic_from_seed_and_resumable(hr_folder, cache):
  config = data_config(source='folder', hr_dir=str(hr_folder), cache=cache)
  run = _batches(config, 5)  # 20 elements: several epochs of the 4 images.
  _assert_same_batches(run, _batches(config, 5))
  _assert_same_batches(run[3:], _batches(config, 2, start_step=3))
  other = _batches(config, 1, seed=1)
  assert not np.array_equal(run[0]['hr'], other[0]['hr'])


@pytest.mark.parametrize('process_index', [0, 1])
def test_realesrgan_stream_is_gt_patches_and_their_global_indices(hr_folder, process_index):
  """No LR: the bicubic stream's HR patches with global example indices (position * processes + process), the same
  after a resume, so the step degrades every example from the same (key, index)."""
  kwargs = dict(process_index=process_index, process_count=2, global_batch_size=4)
  bicubic = _batches(data_config(source='folder', hr_dir=str(hr_folder)), 3, **kwargs)
  config = data_config(source='folder', hr_dir=str(hr_folder), degradation='realesrgan')
  run = _batches(config, 3, **kwargs)
  assert set(run[0]) == {'hr', 'index'} and run[0]['index'].dtype == np.int32
  for k, (batch, reference) in enumerate(zip(run, bicubic)):
    np.testing.assert_array_equal(batch['hr'], reference['hr'])
    np.testing.assert_array_equal(batch['index'], 2 * np.arange(2 * k, 2 * k + 2) + process_index)
  resumed = _batches(config, 1, start_step=2, **kwargs)[0]
  np.testing.assert_array_equal(resumed['index'], run[2]['index'])
  np.testing.assert_array_equal(resumed['hr'], run[2]['hr'])


def test_resume_does_not_decode_the_skipped_batches(hr_folder, monkeypatch):
  reads = []
  real_read = sources.read_image_raw
  monkeypatch.setattr(sources, 'read_image_raw', lambda path: reads.append(path) or real_read(path))
  config = data_config(source='folder', hr_dir=str(hr_folder), cache=False, num_parallel_calls=1)
  [resumed] = _batches(config, 1, start_step=100_000, global_batch_size=2)
  assert 2 <= len(reads) < 50  # 200,000 elements skipped; only a few read ahead.
  reads.clear()
  [reference] = _batches(config, 1, start_step=100_000, global_batch_size=2)
  _assert_same_batches([resumed], [reference])


def test_every_epoch_visits_every_image_once(tmp_path):
  for k in range(5):
    save_image(tmp_path / f'{k}.png', np.full((GT, GT, 3), 40 * k, np.uint8))
  [batch] = _batches(data_config(source='folder', hr_dir=str(tmp_path)), 1, global_batch_size=15)
  values = np.round(batch['hr'][:, 0, 0, 0] * 255).astype(int)
  for epoch in range(3):
    assert sorted(values[5 * epoch : 5 * epoch + 5]) == [0, 40, 80, 120, 160]
  assert list(values[:5]) != list(values[5:10]) or list(values[5:10]) != list(values[10:15])


@pytest.mark.parametrize('source', ['folder', 'tfrecord'])
def test_process_shards_are_disjoint_and_cover_the_set(tmp_path, source):
  images = tmp_path / 'images'
  images.mkdir()
  for k in range(7):
    save_image(images / f'{k}.png', np.full((GT, GT, 3), 30 * k, np.uint8))
  if source == 'folder':
    config = data_config(source='folder', hr_dir=str(images))
  else:
    prepare(images, tmp_path / 'shards', crop=GT, step=GT, output_format='tfrecord', num_shards=6)
    config = data_config(source='tfrecord', tfrecord_pattern=str(tmp_path / 'shards' / '*.tfrecord'), cache=True)
  shards = []
  for process in range(3):
    [batch] = _batches(config, 1, global_batch_size=3 * 21, process_index=process, process_count=3)
    assert batch['hr'].shape[0] == 21
    shards.append(set(np.round(batch['hr'][:, 0, 0, 0] * 255).astype(int)))
  assert set().union(*shards) == {30 * k for k in range(7)}
  assert sum(len(s) for s in shards) == 7


def test_streamed_tfrecord_source_is_deterministic_and_resumable(tmp_path):
  folder = tmp_path / 'big'
  folder.mkdir()
  save_image(folder / 'a.png', random_uint8((64, 48, 3), 3))
  save_image(folder / 'b.png', random_uint8((40, 40, 3), 4))
  count = prepare(folder, tmp_path / 'shards', crop=24, step=16, output_format='tfrecord', num_shards=2)
  assert count == 4 * 3 + 2 * 2
  config = data_config(
    source='tfrecord', tfrecord_pattern=str(tmp_path / 'shards' / '*.tfrecord'), cache=False, shuffle_buffer=8
  )
  run = _batches(config, 6)  # 24 elements: into the second epoch of 16 records.
  _assert_same_batches(run, _batches(config, 6))
  _assert_same_batches(run[5:], _batches(config, 1, start_step=5))
  for batch in run[:2]:
    assert np.isfinite(batch['hr']).all()
    _assert_matlab_lr(batch['lr'], batch['hr'])


@pytest.mark.parametrize('cache', [True, False])
def test_tfds_source_under_mock_data(cache):
  config = data_config(source='tfds', tfds_name='div2k/bicubic_x4', tfds_split='train', cache=cache)
  with tfds.testing.mock_data(num_examples=6):
    run = _batches(config, 3)
    _assert_same_batches(run[1:], _batches(config, 2, start_step=1))
    val = create_val_images(data_config(source='tfds', tfds_split='validation'), scale=SCALE)
  for batch in run:
    assert batch['hr'].shape == (4, GT, GT, 3) and np.isfinite(batch['hr']).all()
    _assert_matlab_lr(batch['lr'], batch['hr'])
  assert len(val) == 6 and all(v['hr'].shape[0] == v['lr'].shape[0] * SCALE for v in val)


def test_demo_source_needs_no_download():
  [batch] = _batches(data_config(source='demo'), 1)
  assert batch['hr'].shape == (4, GT, GT, 3)
  val = create_val_images(data_config(source='demo'), scale=SCALE)
  assert [v['name'] for v in val] == ['chelsea', 'coffee']
  assert val[0]['hr'].shape == (300, 448, 3) and val[0]['lr'].shape == (75, 112, 3)


# Bad input.


def _write_bad_files(folder):
  folder.mkdir(exist_ok=True)
  (folder / 'empty.png').write_bytes(b'')
  (folder / 'text.png').write_bytes(b'not an image at all' * 3)
  save_image(folder / 'small.png', random_uint8((8, 8, 3), 9))
  save_image(folder / 'whole.jpg', random_uint8((64, 64, 3), 10))
  data = (folder / 'whole.jpg').read_bytes()
  (folder / 'truncated.jpg').write_bytes(data[: len(data) // 3])  # Header fine, pixel data cut.
  (folder / 'whole.jpg').unlink()


@pytest.mark.parametrize('cache', [True, False])
def test_bad_files_are_skipped_with_warnings_naming_them(tmp_path, caplog, cache):
  _write_bad_files(tmp_path)
  save_image(tmp_path / 'good.png', random_uint8((GT + 3, GT + 5, 3), 11))
  save_image(tmp_path / 'gray.png', random_uint8((GT, GT), 12))
  save_image(tmp_path / 'rgba.png', random_uint8((GT, GT, 4), 13))
  with caplog.at_level('WARNING'):
    batches = _batches(data_config(source='folder', hr_dir=str(tmp_path), cache=cache), 4)
  log = caplog.text
  assert 'empty.png: the file is empty' in log
  assert 'text.png: not a PNG, JPEG, BMP, TIFF or WebP file' in log
  assert 'small.png: 8x8 is smaller than the 16-pixel crop' in log
  assert 'truncated.jpg: JPEG data truncated at byte' in log
  assert 'gray.png is grayscale' in log and 'rgba.png has an alpha channel' in log
  for batch in batches:
    assert np.isfinite(batch['hr']).all() and np.isfinite(batch['lr']).all()
    assert 0 <= batch['hr'].min() and batch['hr'].max() <= 1


def test_process_defaults_come_from_jax():
  dataset = create_train_dataset(data_config(source='demo'), scale=SCALE, gt_size=GT, global_batch_size=8, seed=0)
  assert dataset.element_spec['hr'].shape == (8, GT, GT, 3)  # One process in tests.
  assert isinstance(dataset, tf.data.Dataset)
