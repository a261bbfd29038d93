"""esrgan_jax.training.config_checks: each bad field named with its fix, batches against the devices, and every
missing input a config names, found before anything is built."""

import helpers
import ml_collections
import pytest
from helpers import tiny_train_config
from tiny_config import get_config

from esrgan_jax.training import config_checks, train


def test_check_names_bad_fields():
  config = tiny_train_config()
  config.gan.gt_size = 96
  with pytest.raises(ValueError, match='config.gan.gt_size'):
    config_checks.check(config)
  config = tiny_train_config()
  config.stages = ('psnr', 'finetune')
  with pytest.raises(ValueError, match='config.stages'):
    config_checks.check(config)
  config = tiny_train_config()
  config.psnr.batch_size = 0
  with pytest.raises(ValueError, match='config.psnr.batch_size: The global batch size must be >= 1, got 0'):
    config_checks.check(config)


def test_batch_sizes_must_split_over_devices_and_processes():
  config = tiny_train_config()
  config_checks.check_batch_sizes(config, 8, 2)
  config.psnr.batch_size = 12
  with pytest.raises(
    ValueError, match='config.psnr.batch_size: The global batch size 12 is not divisible by the 8 devices; use a '
  ):
    config_checks.check_batch_sizes(config, 8, 1)
  config.psnr.batch_size = 8
  with pytest.raises(ValueError, match='not divisible by the 3 processes; use a multiple of 3'):
    config_checks.check_batch_sizes(config, 4, 3)


@pytest.mark.parametrize(
  'edit, message',
  [
    (
      lambda c: setattr(c.model, 'arch', 'EDSR'),
      r"config.model.arch must be one of \['MSRResNet', 'RRDBNet', 'SRVGGNetCompact'\]",
    ),
    (
      lambda c: setattr(c.model, 'num_grow_ch', 32),
      r'config.model.num_grow_ch is not a field of MSRResNet; '
      r'MSRResNet takes .*num_block, num_feat',
    ),
    (lambda c: setattr(c, 'scale', 1), 'config.scale 1 is not available for MSRResNet'),
    (lambda c: setattr(c.gan, 'gan_type', 'wgan'), r"config.gan.gan_type must be one of \('ragan', 'vanilla'\)"),
    (lambda c: setattr(c.gan, 'perceptual_network', 'vgg16'), 'config.gan.perceptual_network must be one of'),
    (
      lambda c: setattr(c.gan, 'perceptual_layers', {'relu5_5': 1.0}),
      r"perceptual_layers names \['relu5_5'\]; the vgg19 layers are conv1_1, relu1_1, .*relu5_4",
    ),
    (lambda c: c.gan.update(perceptual_network='minc'), r"names \['conv5_4'\]; the minc layers are conv53"),
    (lambda c: setattr(c.discriminator, 'arch', 'PatchGAN'), 'config.discriminator.arch must be one of'),
    (lambda c: c.gan.update(gt_size=64), "128 or 256 .*arch='UNetDiscriminatorSN' takes any multiple of 8"),
    (
      lambda c: c.update(discriminator=dict(arch='UNetDiscriminatorSN'), gan=dict(gt_size=68)),
      'config.gan.gt_size must be a multiple of 8',
    ),
    (lambda c: c.train_data.update(degradation='jpeg'), "config.train_data: data.degradation = 'jpeg'; choose one of"),
    (lambda c: c.val_data.update(source='lmdb'), "config.val_data: data.source = 'lmdb'; choose one of demo, folder,"),
    (lambda c: setattr(c, 'remat', True), 'config.remat is for RRDBNet; MSRResNet has no remat field'),
    (
      lambda c: c.val_data.update(source='paired', degradation='realesrgan'),
      "config.val_data: data.degradation = 'realesrgan' synthesises the LR images, but data.source = 'paired'",
    ),
    (
      lambda c: c.train_data.update(degradation='realesrgan', jpeg_impl='pil'),
      r"config.train_data.jpeg_impl must be one of \('diffjpeg', 'libjpeg'\), got 'pil'",
    ),
    (
      lambda c: c.train_data.update(degradation='realesrgan', degradation_draws='per_step'),
      r"config.train_data.degradation_draws must be one of \('per_batch', 'per_example'\), got 'per_step'",
    ),
    (
      lambda c: c.update(train_data=dict(degradation='realesrgan'), psnr=dict(gt_size=24)),
      'config.psnr.gt_size is 24; the realesrgan degradation needs GT patches of at least 28 pixels',
    ),
  ],
)
def test_check_names_bad_model_data_and_gan_choices(edit, message):
  config = tiny_train_config()
  config.model = ml_collections.ConfigDict(dict(arch='MSRResNet', num_feat=8, num_block=1, use_bn=True))
  config_checks.check(config)
  edit(config)
  with pytest.raises(ValueError, match=message):
    config_checks.check(config)


def test_demo_config_needs_no_files(tmp_path):
  assert config_checks.input_problems(get_config(), tmp_path) == []


def test_each_missing_input_is_named(tmp_path, monkeypatch):
  monkeypatch.setenv('ESRGAN_JAX_WEIGHTS', str(tmp_path / 'weights'))
  config = get_config()
  config.train_data.update(source='paired', hr_dir=str(tmp_path), lr_dir=str(tmp_path / 'lr'))
  config.val_data.update(source='tfrecord', tfrecord_pattern=str(tmp_path / 'val-*.tfrecord'))
  config.gan.perceptual_weight = 1.0
  config.stages = ('gan',)
  problems = config_checks.input_problems(config, tmp_path / 'run')
  assert len(problems) == 4, problems
  assert problems[0].startswith(f"config.train_data.lr_dir = '{tmp_path / 'lr'}' is not a folder")
  assert 'config.val_data.tfrecord_pattern' in problems[1] and 'matches no files' in problems[1]
  assert f'starts from {tmp_path / "run" / "psnr" / train.GENERATOR_FILE}, which does not exist' in problems[2]
  assert f'VGG19Features weights at {tmp_path / "weights" / "vgg19.msgpack"}' in problems[3]
  assert 'python -m esrgan_jax.convert vgg19 vgg19-dcbb9e9d.pth' in problems[3]
  config.gan.pretrained = str(tmp_path / 'g.msgpack')
  assert "config.gan.pretrained = '" in config_checks.input_problems(config, tmp_path / 'run')[2]
  with pytest.raises(FileNotFoundError, match=r'^Missing training input: config.train_data.lr_dir .*; .*\.$'):
    config_checks.check_inputs(config, tmp_path / 'run')
  assert not (tmp_path / 'run').exists()


def test_missing_lpips_weights_of_validation_are_named(tmp_path, monkeypatch):
  monkeypatch.setenv('ESRGAN_JAX_WEIGHTS', str(tmp_path / 'weights'))
  config = get_config()
  config.gan.val_lpips = 'alex'
  [problem] = config_checks.input_problems(config, tmp_path / 'run')
  assert problem.startswith(f'config.gan.val_lpips: LPIPS weights not found at {tmp_path / "weights"}')
  assert 'python -m esrgan_jax.convert lpips --net alex' in problem


def test_tfds_dataset_must_be_prepared_in_its_data_dir(tmp_path, monkeypatch):
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path))
  config = get_config()
  config.train_data.update(source='tfds', tfds_name='div2k/bicubic_x4')
  (problem,) = config_checks.input_problems(config, tmp_path / 'run')
  assert problem.startswith(f"config.train_data: the TFDS dataset 'div2k/bicubic_x4' is not prepared in {tmp_path} ")
  assert '`tfds build div2k/bicubic_x4`' in problem
  (tmp_path / 'div2k' / 'bicubic_x4' / '2.0.0').mkdir(parents=True)
  (tmp_path / 'div2k' / 'bicubic_x4' / '2.0.0' / 'dataset_info.json').write_text('{}')
  assert config_checks.input_problems(config, tmp_path / 'run') == []
  config.train_data.tfds_name = 'div2k/bicubic_x4:1.0.0'  # a version that is not there
  assert len(config_checks.input_problems(config, tmp_path / 'run')) == 1


def test_missing_dists_weights_of_validation_are_named(tmp_path, monkeypatch):
  monkeypatch.setenv('ESRGAN_JAX_WEIGHTS', str(tmp_path / 'weights'))
  config = get_config()
  config.gan.val_dists = 'default'
  [problem] = config_checks.input_problems(config, tmp_path / 'run')
  assert problem.startswith(
    f'config.gan.val_dists: DISTS weights not found at {tmp_path / "weights" / "dists.msgpack"}'
  )
  assert 'python -m esrgan_jax.convert dists --backbone vgg16-397923af.pth' in problem


def test_a_url_workdir_needs_its_bucket():
  with helpers.gcs_in_this_process() as bucket:
    assert config_checks.input_problems(get_config(), f'{bucket}/run') == []
    [problem] = config_checks.input_problems(get_config(), 'gs://no-bucket/run')
  assert problem.startswith(
    '--workdir=gs://no-bucket/run: the bucket gs://no-bucket does not exist or this account cannot see it'
  )
