"""The shipped configs (esrgan_jax/configs): every field commented, esrgan.py's argument, the names kept from before
it, and the GPU and TPU configs; each loads and passes `config_checks`."""

import ast
import io
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from esrgan_jax import configs
from esrgan_jax.configs import default, esrgan, gpu, tpu
from esrgan_jax.training import config_checks

ROOT = Path(__file__).resolve().parents[2]


def uncommented_fields(source: str) -> list[str]:
  """'LINE: FIELD' for each field set in `source` (`x.field = ...` or a keyword argument) without a comment at the
  end of its line or on the line just above."""
  comments = {
    token.start[0] for token in tokenize.generate_tokens(io.StringIO(source).readline) if token.type == tokenize.COMMENT
  }
  lines = source.splitlines()
  missing = []
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Attribute):
      field = ast.unparse(node.targets[0])
    elif isinstance(node, ast.keyword) and node.arg:
      field = node.arg
    else:
      continue
    above = node.lineno - 1
    if node.lineno not in comments and not (above in comments and lines[above - 1].lstrip().startswith('#')):
      missing.append(f'{node.lineno}: {field}')
  return sorted(missing)


def test_the_comment_check_finds_a_field_without_one():
  source = 'def f(c):\n  c.a = 1  # one\n  # two\n  c.b = 2\n  c.c = 3\n  d = dict(e=4,  # four\n    g=5)\n'
  assert uncommented_fields(source) == ['5: c.c', '7: g']


@pytest.mark.parametrize('module', [default, esrgan, gpu, tpu], ids=lambda m: m.__name__.rpartition('.')[2])
def test_every_field_has_a_comment(module):
  assert uncommented_fields(Path(module.__file__).read_text()) == []


def test_data_config_has_the_agreed_fields():
  assert set(default.data_config()) == {
    'source',
    'hr_dir',
    'lr_dir',
    'tfds_name',
    'tfds_split',
    'tfds_data_dir',
    'tfds_image_key',
    'tfrecord_pattern',
    'names',
    'cache',
    'shuffle_buffer',
    'num_parallel_calls',
    'degradation',
    'degradation_draws',
    'jpeg_impl',
    'sharpen_gt',
  }


def test_no_argument_is_the_default_config():
  assert esrgan.get_config().to_dict() == default.get_config().to_dict()
  assert esrgan.get_config('').to_dict() == default.get_config().to_dict()


@pytest.mark.parametrize(
  'name, arg, stages, scale',
  [
    ('psnr', 'stage=psnr', ('psnr',), 4),
    ('gan', 'stage=gan,scale=4', ('gan',), 4),
    ('psnr_x2', 'scale=2,stage=psnr', ('psnr',), 2),
    ('gan_x2', ' stage = gan , scale = 2 ', ('gan',), 2),
  ],
)
def test_the_old_names_are_esrgan_py_with_an_argument(name, arg, stages, scale):
  config = configs.load_config_file(configs.resolve(f'esrgan:{arg}'))
  assert (tuple(config.stages), config.scale) == (stages, scale)
  assert config.train_data.tfds_name == config.val_data.tfds_name == f'div2k/bicubic_x{scale}'
  assert configs.load_config_file(configs.CONFIGS_DIR / f'{name}.py').to_dict() == config.to_dict()
  config_checks.check(config)


@pytest.mark.parametrize(
  'arg, message',
  [
    ('stage=finetune', r'configs/esrgan.py:stage=finetune: stage=finetune is not one of both\|psnr\|gan; '),
    ('scale=3', r'scale=3 is not one of 4\|2; configs/esrgan.py takes stage=both\|psnr\|gan,scale=4\|2\.$'),
    ('stages=gan', "unknown key 'stages'; configs/esrgan.py takes stage="),
    ('gan', r"'gan' is not key=value"),
  ],
)
def test_a_bad_argument_names_the_key_and_the_values(arg, message):
  with pytest.raises(configs.ConfigArgError, match=message):
    esrgan.get_config(arg)


@pytest.mark.parametrize(
  'module, arg, devices, batch',
  [(gpu, '', 1, 16), (gpu, 'gpus=8,stage=gan,scale=2', 8, 128), (tpu, '', 1, 16), (tpu, 'chips=256', 256, 4096)],
)
def test_hardware_configs_set_the_batch_per_device_and_pass_the_checks(module, arg, devices, batch):
  config = module.get_config(arg)
  assert [config[name].batch_size for name in config.stages] == [batch] * len(config.stages)
  assert config.half_precision and not config.remat and config.scan_blocks == (module is tpu)
  config_checks.check(config)
  config_checks.check_batch_sizes(config, devices, 1)
  with pytest.raises(configs.ConfigArgError, match='is not one of 1..'):
    module.get_config('gpus=0' if module is gpu else 'chips=0')


def run_aot(*args):
  return subprocess.run(
    [sys.executable, '-m', 'esrgan_jax.aot', *args], capture_output=True, text=True, timeout=600, cwd=ROOT
  )


def test_aot_takes_the_tpu_config_with_its_argument():
  """The config loads and passes the checks (the next mistake reported is the topology's); no compile runs."""
  result = run_aot('--config', 'configs/tpu.py:chips=16,stage=gan', '--topology', 'v9:4x4')
  assert result.returncode == 2 and result.stderr.count('\n') == 1, result.stderr
  assert 'v9' in result.stderr and 'config' not in result.stderr
  result = run_aot('--config', 'configs/tpu.py:chips=16,stage=finetune', '--topology', 'v5e:4x4')
  assert result.returncode == 2, result.stderr
  assert result.stderr == (
    'error: --config configs/tpu.py:chips=16,stage=finetune: stage=finetune is not one of both|psnr|gan; '
    'configs/tpu.py takes stage=both|psnr|gan,scale=4|2,chips=1..8960.\n'
  )
