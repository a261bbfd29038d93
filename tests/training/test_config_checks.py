"""esrgan_jax.training.preflight: every missing input a config names, found before anything is built."""

import pytest
from tiny_config import get_config

from esrgan_jax.training import preflight, train


def test_demo_config_needs_no_files(tmp_path):
  assert preflight.input_problems(get_config(), tmp_path) == []


def test_each_missing_input_is_named(tmp_path, monkeypatch):
  monkeypatch.setenv('ESRGAN_JAX_WEIGHTS', str(tmp_path / 'weights'))
  config = get_config()
  config.train_data.update(source='paired', hr_dir=str(tmp_path), lr_dir=str(tmp_path / 'lr'))
  config.val_data.update(source='tfrecord', tfrecord_pattern=str(tmp_path / 'val-*.tfrecord'))
  config.gan.perceptual_weight = 1.0
  config.stages = ('gan',)
  problems = preflight.input_problems(config, tmp_path / 'run')
  assert len(problems) == 4, problems
  assert problems[0].startswith(f"config.train_data.lr_dir = '{tmp_path / 'lr'}' is not a folder")
  assert 'config.val_data.tfrecord_pattern' in problems[1] and 'matches no files' in problems[1]
  assert f'starts from {tmp_path / "run" / "psnr" / train.GENERATOR_FILE}, which does not exist' in problems[2]
  assert f'VGG19Features weights at {tmp_path / "weights" / "vgg19.msgpack"}' in problems[3]
  assert 'python -m esrgan_jax.convert vgg19 vgg19-dcbb9e9d.pth' in problems[3]
  config.gan.pretrained = str(tmp_path / 'g.msgpack')
  assert "config.gan.pretrained = '" in preflight.input_problems(config, tmp_path / 'run')[2]
  with pytest.raises(FileNotFoundError, match=r'^Missing training input: config.train_data.lr_dir .*; .*\.$'):
    preflight.check_inputs(config, tmp_path / 'run')
  assert not (tmp_path / 'run').exists()


def test_missing_lpips_weights_of_validation_are_named(tmp_path, monkeypatch):
  monkeypatch.setenv('ESRGAN_JAX_WEIGHTS', str(tmp_path / 'weights'))
  config = get_config()
  config.gan.val_lpips = 'alex'
  [problem] = preflight.input_problems(config, tmp_path / 'run')
  assert problem.startswith(f'config.gan.val_lpips: LPIPS weights not found at {tmp_path / "weights"}')
  assert 'python -m esrgan_jax.convert lpips --net alex' in problem


def test_tfds_dataset_must_be_prepared_in_its_data_dir(tmp_path, monkeypatch):
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path))
  config = get_config()
  config.train_data.update(source='tfds', tfds_name='div2k/bicubic_x4')
  (problem,) = preflight.input_problems(config, tmp_path / 'run')
  assert problem.startswith(f"config.train_data: the TFDS dataset 'div2k/bicubic_x4' is not prepared in {tmp_path} ")
  assert '`tfds build div2k/bicubic_x4`' in problem
  (tmp_path / 'div2k' / 'bicubic_x4' / '2.0.0').mkdir(parents=True)
  (tmp_path / 'div2k' / 'bicubic_x4' / '2.0.0' / 'dataset_info.json').write_text('{}')
  assert preflight.input_problems(config, tmp_path / 'run') == []
  config.train_data.tfds_name = 'div2k/bicubic_x4:1.0.0'  # a version that is not there
  assert len(preflight.input_problems(config, tmp_path / 'run')) == 1


def test_missing_dists_weights_of_validation_are_named(tmp_path, monkeypatch):
  monkeypatch.setenv('ESRGAN_JAX_WEIGHTS', str(tmp_path / 'weights'))
  config = get_config()
  config.gan.val_dists = 'default'
  [problem] = preflight.input_problems(config, tmp_path / 'run')
  assert problem.startswith(
    f'config.gan.val_dists: DISTS weights not found at {tmp_path / "weights" / "dists.msgpack"}'
  )
  assert 'python -m esrgan_jax.convert dists --backbone vgg16-397923af.pth' in problem
