"""A non-editable install works outside the checkout: the wheel holds every subpackage and the bundled configs, and
`upscale`, `convert` and `main` (on the bundled demo config) run from a folder that is not the source tree. Without
the [train] extra (its modules blocked) the base tools convert, interpolate, upscale and evaluate 8- and 16-bit PNGs,
and the training tools say in one line which pip install brings it."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import tiny_generator
from PIL import Image

from esrgan_jax import extras
from esrgan_jax.data.image_io import read_image_raw, write_image
from esrgan_jax.weights import generator_state_dicts, torch_io
from esrgan_jax.weights.model_io import load_generator

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def installed(tmp_path_factory) -> tuple[Path, Path]:
  """(python of a fresh venv with the built wheel installed, the wheel). The venv sees this interpreter's packages
  (the dependencies) but gets esrgan_jax only from the wheel."""
  root = tmp_path_factory.mktemp('install')
  subprocess.run(
    [
      sys.executable,
      '-m',
      'pip',
      'wheel',
      '--no-deps',
      '--no-build-isolation',
      '-q',
      '-w',
      str(root / 'dist'),
      str(REPO),
    ],
    check=True,
    capture_output=True,
  )
  [wheel] = (root / 'dist').glob('esrgan_jax-*.whl')
  subprocess.run([sys.executable, '-m', 'venv', '--system-site-packages', str(root / 'venv')], check=True)
  python = root / 'venv' / 'bin' / 'python'
  subprocess.run(
    [str(python), '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', str(wheel)], check=True, capture_output=True
  )
  return python, wheel


def run(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  env.update(JAX_PLATFORMS='cpu', ESRGAN_JAX_WEIGHTS=str(cwd / 'weights'))
  return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_wheel_holds_the_library_and_the_configs(installed):
  names = set(zipfile.ZipFile(installed[1]).namelist())
  for subpackage in ('models', 'data', 'weights', 'training', 'inference', 'configs', 'configs/ablation'):
    assert f'esrgan_jax/{subpackage}/__init__.py' in names
  assert {'esrgan_jax/configs/demo.py', 'esrgan_jax/configs/gan.py', 'esrgan_jax/configs/ablation/esrgan.py'} <= names
  assert {'esrgan_jax/inference/data/niqe_pris_params.npz', 'esrgan_jax/inference/data/PROVENANCE.md'} <= names
  assert 'esrgan_jax/cpu_kernels/onednn_conv.cc' in names  # the source the optional oneDNN kernel is built from
  assert not any(name.startswith(('tests/', 'benchmarks/', 'reference/')) for name in names)


def test_tools_run_from_outside_the_checkout(installed, tmp_path):
  python, _ = installed
  where = run(python, tmp_path, '-c', 'import esrgan_jax; print(esrgan_jax.__file__)')
  assert where.returncode == 0, where.stderr
  assert str(REPO) not in where.stdout and 'venv' in where.stdout  # the installed copy, not the source tree
  module, params = tiny_generator(2)
  torch_io.save_state_dict(
    tmp_path / 'tiny.pth', {'params_ema': generator_state_dicts.generator_to_torch(module, params)}
  )
  converted = run(python, tmp_path, '-m', 'esrgan_jax.convert', 'generator', 'tiny.pth', 'tiny.msgpack')
  assert converted.returncode == 0, converted.stderr
  Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 16, 3), np.uint8)).save(tmp_path / 'in.png')
  upscaled = run(python, tmp_path, '-m', 'esrgan_jax.upscale', '-i', 'in.png', '-o', 'out', '--model', 'tiny.msgpack')
  assert upscaled.returncode == 0, upscaled.stderr
  assert Image.open(tmp_path / 'out' / 'in_out.png').size == (32, 24)
  scripts = python.parent  # console scripts: `esrgan-upscale ...` is `python -m esrgan_jax.upscale ...`
  assert all((scripts / f'esrgan-{tool}').is_file() for tool in ('evaluate', 'interpolate', 'prepare', 'ablation'))
  upscaled = run(scripts / 'esrgan-upscale', tmp_path, '-i', 'in.png', '-o', 'out2', '--model', 'tiny.msgpack')
  assert upscaled.returncode == 0 and Image.open(tmp_path / 'out2' / 'in_out.png').size == (32, 24), upscaled.stderr
  helped = run(scripts / 'esrgan-convert', tmp_path, '--help')
  assert helped.returncode == 0 and 'usage:' in helped.stdout, helped.stderr


def test_main_runs_the_bundled_demo_config_from_outside_the_checkout(installed, tmp_path):
  python, _ = installed
  tiny = [
    '--config.model.num_feat=8',
    '--config.model.num_block=1',
    '--config.model.num_grow_ch=4',
    '--config.discriminator.num_feat=4',
    '--config.psnr.num_steps=2',
    '--config.psnr.batch_size=8',
    '--config.psnr.gt_size=32',
    '--config.gan.num_steps=1',
    '--config.gan.batch_size=8',
    "--config.val_data.names=('chelsea',)",
    "--config.train_data.names=('astronaut',)",
  ]
  result = run(python, tmp_path, '-m', 'esrgan_jax.main', '--config', 'demo', '--workdir', 'run', *tiny)
  assert result.returncode == 0, result.stderr[-3000:]
  assert (tmp_path / 'run' / 'gan' / 'generator.msgpack').is_file()
  assert 'gan: 1 steps' in result.stdout


# Runs `python -m MODULE ARGS...` (sys.argv[1:]) with the [train] extra's modules absent as far as the process can
# tell: None in sys.modules makes `import tensorflow` raise ModuleNotFoundError and find_spec('tensorflow') None.
WITHOUT_TRAIN_EXTRA = f"""
import runpy, sys
for name in {extras.EXTRAS['train'][1]!r}:
  sys.modules[name] = None
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)
"""


def run_without_train_extra(cwd: Path, module: str, *args: str) -> subprocess.CompletedProcess:
  return subprocess.run(
    [sys.executable, '-c', WITHOUT_TRAIN_EXTRA, module, *args],
    cwd=cwd,
    env={**os.environ, 'PYTHONPATH': str(REPO), 'JAX_PLATFORMS': 'cpu', 'ESRGAN_JAX_WEIGHTS': str(cwd / 'weights')},
    capture_output=True,
    text=True,
    timeout=600,
  )


def test_base_tools_run_on_8_and_16_bit_pngs_without_the_train_extra(tmp_path):
  module, params = tiny_generator(2)
  torch_io.save_state_dict(tmp_path / 'a.pth', {'params_ema': generator_state_dicts.generator_to_torch(module, params)})
  other = {k: v * 0.9 for k, v in generator_state_dicts.generator_to_torch(module, params).items()}
  torch_io.save_state_dict(tmp_path / 'b.pth', other)
  for name in ('a', 'b'):
    converted = run_without_train_extra(tmp_path, 'esrgan_jax.convert', 'generator', f'{name}.pth', f'{name}.msgpack')
    assert converted.returncode == 0, converted.stderr
  mixed = run_without_train_extra(
    tmp_path,
    'esrgan_jax.interpolate',
    '--psnr',
    'a.msgpack',
    '--gan',
    'b.msgpack',
    '--alpha',
    '0.5',
    '--out',
    'g.msgpack',
  )
  assert mixed.returncode == 0, mixed.stderr
  rng = np.random.default_rng(0)
  image = rng.random((16, 20, 3))
  for folder, bits in (('eight', 8), ('sixteen', 16)):
    (tmp_path / folder).mkdir()
    write_image(tmp_path / folder / f'{folder}.png', image, bit_depth=bits)
  for folder in ('eight', 'sixteen'):
    upscaled = run_without_train_extra(
      tmp_path, 'esrgan_jax.upscale', '-i', folder, '-o', 'out', '--model', 'g.msgpack'
    )
    assert upscaled.returncode == 0, upscaled.stderr
  generator, generator_params = load_generator(tmp_path / 'g.msgpack')
  for name, bits in (('eight', 8), ('sixteen', 16)):
    pixels, read_bits = read_image_raw(tmp_path / 'out' / f'{name}_out.png')
    assert read_bits == bits and pixels.shape == (32, 40, 3)
    stored = np.round(image * (2**bits - 1)) / (2**bits - 1)
    network = np.clip(generator.apply({'params': generator_params}, stored[None].astype(np.float32))[0], 0, 1)
    # every bit kept (8-bit pixels would be up to 128 steps off); 1 step for float32 sums in another process
    assert np.abs(pixels - np.round(np.asarray(network, np.float64) * (2**bits - 1))).max() <= 1
  scored = run_without_train_extra(
    tmp_path, 'esrgan_jax.evaluate', 'eight', '--model', 'g.msgpack', '--metrics', 'psnr,ssim', '--out', 'scores'
  )
  assert scored.returncode == 0, scored.stderr
  assert 'eight' in scored.stdout and (tmp_path / 'scores' / 'metrics.csv').is_file()
  # a 16-bit HR image is scored rounded to 8 bits: the same levels stored in 16 bits (k * 257) score as the 8-bit file
  (tmp_path / 'wide').mkdir()
  write_image(
    tmp_path / 'wide' / 'eight.png', read_image_raw(tmp_path / 'eight' / 'eight.png')[0] / 255.0, bit_depth=16
  )
  assert read_image_raw(tmp_path / 'wide' / 'eight.png')[1] == 16
  for folder in ('eight', 'wide'):
    scored = run_without_train_extra(
      tmp_path,
      'esrgan_jax.evaluate',
      folder,
      '--model',
      'g.msgpack',
      '--metrics',
      'psnr,ssim',
      '--out',
      folder + '_scores',
    )
    assert scored.returncode == 0, scored.stderr
  assert 'eight.png is 16-bit; evaluated rounded to 8 bits' in scored.stderr

  def scores(folder):  # the rows without the set's name
    return [line.split(',')[1:] for line in (tmp_path / f'{folder}_scores' / 'metrics.csv').read_text().splitlines()]

  assert scores('wide') == scores('eight')


@pytest.mark.parametrize(
  'module, args',
  [
    ('esrgan_jax.main', ('--config', 'demo', '--workdir', 'run')),
    ('esrgan_jax.ablation', ('--workdir', 'run', '--steps', '1', '--demo')),
    ('esrgan_jax.prepare', ('--input', 'in', '--output', 'run', '--format', 'tfrecord')),
  ],
)
def test_training_tools_without_the_train_extra_name_the_pip_install(tmp_path, module, args):
  (tmp_path / 'in').mkdir()
  write_image(tmp_path / 'in' / 'a.png', np.zeros((8, 8, 3)))
  result = run_without_train_extra(tmp_path, module, *args)
  assert result.returncode == 2
  assert result.stderr.splitlines() == [
    "training needs tensorflow, tensorflow_datasets, tensorboard, clu: pip install 'esrgan_jax[train]' "
    "(in a checkout: pip install -e '.[train]')"
  ]
  assert not (tmp_path / 'run').exists()
