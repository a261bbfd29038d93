"""A non-editable install works outside the checkout: the wheel holds every subpackage and the bundled configs, and
`upscale`, `convert` and `main` (on the bundled demo config) run from a folder that is not the source tree."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import tiny_generator
from PIL import Image

from esrgan_jax.weights import generator_state_dicts, torch_io

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
