"""Tests for esrgan_jax.data.sources: this process's images of the demo, folder and paired sources, HR/LR pairing by
stem, and the warnings and errors that name skipped files."""

import numpy as np
import pytest
from helpers import data_config, random_uint8, save_image

from esrgan_jax.data import sources

GT = 16


def _paired(tmp_path, images: dict[str, tuple]) -> object:
  """A 'paired' data config over tmp_path/hr and tmp_path/lr holding `images` ({'hr/NAME.png': shape, ...})."""
  for folder in ('hr', 'lr'):
    (tmp_path / folder).mkdir(exist_ok=True)
  for seed, (name, shape) in enumerate(images.items()):
    save_image(tmp_path / name, random_uint8(shape, seed))
  return data_config(source='paired', hr_dir=str(tmp_path / 'hr'), lr_dir=str(tmp_path / 'lr'))


def test_folder_set_reads_sizes_from_headers_and_skips_small_images(tmp_path, caplog):
  save_image(tmp_path / 'a.png', random_uint8((20, 30, 3), 0))
  save_image(tmp_path / 'small.png', random_uint8((8, 40, 3), 1))
  with caplog.at_level('WARNING'):
    image_set = sources.folder_set(data_config(source='folder', hr_dir=str(tmp_path)), GT, 0, 1)
  assert image_set.names == [str(tmp_path / 'a.png')] and image_set.sizes.tolist() == [[20, 30]]
  assert image_set.load(0).shape == (20, 30, 3)
  assert 'small.png: 8x40 is smaller than the 16-pixel crop' in caplog.text


def test_folder_without_usable_images_is_an_error_naming_it(tmp_path):
  (tmp_path / 'empty_dir').mkdir()
  with pytest.raises(ValueError, match='No images .* in .*empty_dir'):
    sources.folder_set(data_config(source='folder', hr_dir=str(tmp_path / 'empty_dir')), GT, 0, 1)
  (tmp_path / 'bad').mkdir()
  (tmp_path / 'bad' / 'empty.png').write_bytes(b'')
  with pytest.raises(ValueError, match='No usable training images in .*bad'):
    sources.folder_set(data_config(source='folder', hr_dir=str(tmp_path / 'bad')), GT, 0, 1)
  with pytest.raises(ValueError, match="data.hr_dir = '.*missing' is not a directory"):
    sources.folder_set(data_config(source='folder', hr_dir=str(tmp_path / 'missing')), GT, 0, 1)


def test_each_process_takes_every_nth_image_and_too_few_is_an_error(tmp_path):
  for k in range(3):
    save_image(tmp_path / f'{k}.png', random_uint8((GT, GT, 3), k))
  config = data_config(source='folder', hr_dir=str(tmp_path))
  assert [sources.folder_set(config, GT, i, 2).names for i in (0, 1)] == [
    [str(tmp_path / '0.png'), str(tmp_path / '2.png')],
    [str(tmp_path / '1.png')],
  ]
  with pytest.raises(ValueError, match='has 3 usable images, fewer than the 8 processes'):
    sources.folder_set(config, GT, 5, 8)


def test_pairs_match_by_stem_with_div2k_tags_and_warn_about_a_missing_lr(tmp_path, caplog):
  config = _paired(
    tmp_path,
    {'hr/0001.png': (8, 8, 3), 'lr/0001x4.png': (2, 2, 3), 'hr/0002.png': (8, 8, 3), 'lr/0002.png': (2, 2, 3),
     'lr/0002x4.png': (2, 2, 3), 'hr/alone.png': (8, 8, 3)},
  )  # fmt: skip
  with caplog.at_level('WARNING'):
    pairs = sources.pair_by_stem(config, 4)
  hr, lr = tmp_path / 'hr', tmp_path / 'lr'
  assert pairs == [(hr / '0001.png', lr / '0001x4.png'), (hr / '0002.png', lr / '0002.png')]  # the exact stem wins
  assert f'alone.png: no LR image named alone.* in {lr}' in caplog.text


def test_paired_size_mismatch_and_missing_lr_are_skipped(tmp_path, caplog):
  config = _paired(
    tmp_path,
    {'hr/ok.png': (32, 32, 3), 'lr/ok.png': (8, 8, 3), 'hr/wrong.png': (32, 32, 3), 'lr/wrong.png': (10, 8, 3),
     'hr/alone.png': (32, 32, 3)},
  )  # fmt: skip
  with caplog.at_level('WARNING'):
    hr_set, lr_set = sources.paired_sets(config, 4, GT, 0, 1)
  assert 'wrong.png: HR 32x32 is not 4 x LR 10x8' in caplog.text
  assert 'alone.png: no LR image' in caplog.text
  assert hr_set.names == [str(tmp_path / 'hr' / 'ok.png')] and lr_set.names == [str(tmp_path / 'lr' / 'ok.png')]
  assert hr_set.sizes.tolist() == [[32, 32]] and lr_set.sizes.tolist() == [[8, 8]]
  (tmp_path / 'hr' / 'ok.png').unlink()
  with pytest.raises(ValueError, match='No usable HR/LR pairs'):
    sources.paired_sets(config, 4, GT, 0, 1)


def test_demo_set_is_decoded_and_skips_photos_smaller_than_the_crop(caplog):
  with caplog.at_level('WARNING'):
    image_set = sources.demo_set(data_config(source='demo', names=('chelsea', 'coffee')), 320, 0, 1)
  assert image_set.names == ['coffee'] and image_set.sizes.tolist() == [[400, 600]]
  assert np.array_equal(image_set.load(0).shape, (400, 600, 3))
  assert 'Skipping demo image chelsea: 300x451 is smaller than the 320-pixel crop' in caplog.text
