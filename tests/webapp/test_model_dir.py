"""Tests for esrgan_jax.webapp.model_dir: only the folder's model files, chosen by name; default pairs."""

import pytest
from app_helpers import COMPACT, GAN, PSNR

from esrgan_jax.webapp.model_dir import ModelDir


def test_lists_model_files_only(model_folder):
  assert ModelDir(model_folder).names == sorted([COMPACT, GAN, PSNR])  # not notes.txt


@pytest.mark.parametrize('name', ['notes.txt', '../models/tiny_psnr.msgpack', '/etc/passwd', 'missing.pth', ''])
def test_refuses_every_name_but_its_files(model_folder, name):
  with pytest.raises(ValueError, match='is not one of the model files'):
    ModelDir(model_folder).path(name)


def test_loads_a_file_by_name(model_folder):
  module, params = ModelDir(model_folder).load(GAN)
  assert module.num_feat == 8 and 'conv_first' in params


@pytest.mark.parametrize(
  'files, pair',
  [
    (['a.pth', 'esrgan_gan.msgpack', 'esrgan_psnr.msgpack'], ('esrgan_psnr.msgpack', 'esrgan_gan.msgpack')),
    (
      ['realesr-general-wdn-x4v3.pth', 'realesr-general-x4v3.pth', 'x.pth'],
      ('realesr-general-wdn-x4v3.pth', 'realesr-general-x4v3.pth'),
    ),
    (['RRDB_ESRGAN_x4.pth', 'RRDB_PSNR_x4.pth'], ('RRDB_PSNR_x4.pth', 'RRDB_ESRGAN_x4.pth')),
    (['b.safetensors', 'a.pth'], ('a.pth', None)),
  ],
)
def test_default_pair(tmp_path, files, pair):
  for name in files:
    (tmp_path / name).write_bytes(b'')
  assert ModelDir(tmp_path).default_pair() == pair


def test_folder_errors_name_the_fix(tmp_path):
  with pytest.raises(FileNotFoundError, match='is not a folder'):
    ModelDir(tmp_path / 'missing')
  (tmp_path / 'readme.md').write_text('x')
  with pytest.raises(FileNotFoundError, match='holds no model files'):
    ModelDir(tmp_path)
