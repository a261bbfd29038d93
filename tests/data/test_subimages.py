"""Tests for esrgan_jax.data.subimages: window positions, PNG and TFRecord sub-image output."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from esrgan_jax.data.image_io import read_image_raw, write_image
from esrgan_jax.data.records import parse_record
from esrgan_jax.data.subimages import crop_subimages, prepare, window_starts


@pytest.mark.parametrize(
  'length, crop, step, thresh, expected',
  [
    (1000, 480, 240, 0, [0, 240, 480, 520]),  # Last window flush with the edge.
    (960, 480, 240, 0, [0, 240, 480]),  # Exact fit: no extra window.
    (1000, 480, 240, 40, [0, 240, 480]),  # 40 px left over is not more than thresh_size.
    (1000, 480, 240, 39, [0, 240, 480, 520]),
    (2040, 480, 240, 0, [0, 240, 480, 720, 960, 1200, 1440, 1560]),  # A DIV2K width.
    (480, 480, 240, 0, [0]),
    (300, 480, 240, 0, [0]),  # Shorter than the crop: kept whole.
  ],
)
def test_window_starts(length, crop, step, thresh, expected):
  assert window_starts(length, crop, step, thresh) == expected


def test_crop_subimages_row_major():
  image = np.arange(10 * 7).reshape(10, 7)
  subs = list(crop_subimages(image, 4, 3))
  assert len(subs) == 3 * 2  # Rows start at [0, 3, 6], columns at [0, 3]; both reach the edge exactly.
  np.testing.assert_array_equal(subs[0], image[0:4, 0:4])
  np.testing.assert_array_equal(subs[1], image[0:4, 3:7])
  np.testing.assert_array_equal(subs[2], image[3:7, 0:4])
  np.testing.assert_array_equal(subs[-1], image[6:10, 3:7])


def test_prepare_png_folder(tmp_path):
  (tmp_path / 'in' / 'nested').mkdir(parents=True)
  rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
  Image.fromarray(rgb).save(tmp_path / 'in' / 'a.png')
  write_image(tmp_path / 'in' / 'nested' / 'deep.tif', np.random.default_rng(1).random((12, 12, 3)), bit_depth=16)
  (tmp_path / 'in' / 'broken.png').write_bytes(b'')
  count = prepare(tmp_path / 'in', tmp_path / 'out', crop=12, step=8)
  files = sorted(p.name for p in (tmp_path / 'out').iterdir())
  assert count == 2 * 4 + 1 == len(files)  # a: rows [0, 8], columns [0, 8, 16, 18]; deep: one window.
  assert files[:8] == [f'a_s{k:03d}.png' for k in range(1, 9)] and files[8] == 'deep_s001.png'
  for k, sub in enumerate(crop_subimages(rgb, 12, 8), start=1):
    np.testing.assert_array_equal(read_image_raw(tmp_path / 'out' / f'a_s{k:03d}.png')[0], sub)
  deep, bits = read_image_raw(tmp_path / 'out' / 'deep_s001.png')
  np.testing.assert_array_equal(deep, read_image_raw(tmp_path / 'in' / 'nested' / 'deep.tif')[0])
  assert bits == 16


def test_prepare_tfrecord_shards_hold_every_subimage(tmp_path):
  (tmp_path / 'in').mkdir()
  gray = np.random.default_rng(2).integers(0, 256, (16, 16), dtype=np.uint8)
  Image.fromarray(gray).save(tmp_path / 'in' / 'g.png')
  count = prepare(tmp_path / 'in', tmp_path / 'out', crop=8, step=8, output_format='tfrecord', num_shards=3)
  shards = sorted((tmp_path / 'out').glob('*.tfrecord'))
  assert count == 4 and len(shards) == 3
  records = {}
  sizes = []
  for shard in shards:
    parsed = [parse_record(r) for r in tf.data.TFRecordDataset(str(shard))]
    sizes.append(len(parsed))
    records.update({name.numpy().decode(): tf.io.decode_png(png).numpy() for png, name in parsed})
  assert sorted(sizes) == [1, 1, 2]  # Round-robin.
  rgb = np.repeat(gray[..., None], 3, -1)  # Gray becomes RGB.
  for k, sub in enumerate(crop_subimages(rgb, 8, 8), start=1):
    np.testing.assert_array_equal(records[f'g_s{k:03d}.png'], sub)


def test_prepare_refuses_bad_arguments(tmp_path):
  (tmp_path / 'in').mkdir()
  with pytest.raises(ValueError, match='No images'):
    prepare(tmp_path / 'in', tmp_path / 'out')
  Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / 'in' / 'a.png')
  (tmp_path / 'out').mkdir()
  (tmp_path / 'out' / 'old.png').write_bytes(b'x')
  with pytest.raises(FileExistsError, match='not empty'):
    prepare(tmp_path / 'in', tmp_path / 'out')
  with pytest.raises(ValueError, match='output_format'):
    prepare(tmp_path / 'in', tmp_path / 'new', output_format='lmdb')
