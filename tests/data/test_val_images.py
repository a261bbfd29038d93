"""Tests for esrgan_jax.data.val_images: whole validation images of each source, modcropped HR and MATLAB LR."""

import numpy as np
from helpers import data_config, random_uint8, save_image

from esrgan_jax.data.imresize import imresize, modcrop
from esrgan_jax.data.val_images import create_val_images

SCALE = 4


def test_folder_images_are_modcropped_with_matlab_lr(tmp_path):
  (tmp_path / 'sub').mkdir()
  for k, (name, shape) in enumerate([('a.png', (40, 36, 3)), ('sub/b.png', (33, 47, 3)), ('bad.png', None)]):
    if shape is None:
      (tmp_path / name).write_bytes(b'')
    else:
      save_image(tmp_path / name, random_uint8(shape, k))
  val = create_val_images(data_config(source='folder', hr_dir=str(tmp_path)), scale=SCALE)
  assert [v['name'] for v in val] == ['a', 'sub_b']  # the path under hr_dir; the empty file is skipped
  hr = modcrop(np.asarray(random_uint8((33, 47, 3), 1), np.float64) / 255, SCALE)
  np.testing.assert_array_equal(val[1]['hr'], hr.astype(np.float32))
  expected = np.floor(np.clip(imresize(hr, 1 / SCALE), 0, 1) * 255 + 0.5) / 255
  np.testing.assert_array_equal(val[1]['lr'], expected.astype(np.float32))


def test_paired_crops_hr_to_lr_times_scale_and_pairs_by_stem(tmp_path, caplog):
  (tmp_path / 'hr').mkdir()
  (tmp_path / 'lr').mkdir()
  save_image(tmp_path / 'hr' / 'x.png', random_uint8((50, 43, 3), 5))
  save_image(tmp_path / 'lr' / 'xx4.png', random_uint8((12, 10, 3), 6))
  save_image(tmp_path / 'hr' / 'alone.png', random_uint8((8, 8, 3), 7))
  with caplog.at_level('WARNING'):
    [example] = create_val_images(
      data_config(source='paired', hr_dir=str(tmp_path / 'hr'), lr_dir=str(tmp_path / 'lr')), scale=SCALE
    )
  assert example['hr'].shape == (48, 40, 3) and example['lr'].shape == (12, 10, 3)
  assert example['name'] == 'x'
  assert 'alone.png: no LR image named alone.*' in caplog.text


def test_demo_images_are_the_validation_split():
  val = create_val_images(data_config(source='demo'), scale=SCALE)
  assert [v['name'] for v in val] == ['chelsea', 'coffee']
  assert val[0]['hr'].shape == (300, 448, 3) and val[0]['lr'].shape == (75, 112, 3)
