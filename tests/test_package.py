"""The package's shape: the library imports without TensorFlow, configs import only ml_collections, nothing sets
environment variables at import time, and bundled configs resolve by name."""

import subprocess
import sys

import pytest

from esrgan_jax import configs

CHECK_MODULES = """
import os, sys
environ = dict(os.environ)
import {module}
heavy = sorted(m for m in ('tensorflow', 'tensorflow_datasets') if m in sys.modules)
assert not heavy, f'importing {module} loaded {{heavy}}'
assert dict(os.environ) == environ, 'importing {module} changed the environment'
"""


@pytest.mark.parametrize(
  'module',
  [
    'esrgan_jax',
    'esrgan_jax.models',
    'esrgan_jax.inference',
    'esrgan_jax.inference.evaluation',
    'esrgan_jax.training.steps',
    'esrgan_jax.weights.generator_state_dicts',
    'esrgan_jax.weights.discriminator_state_dict',
    'esrgan_jax.runtime',
    'esrgan_jax.degradations.pipeline',
    'esrgan_jax.inference.strip',
    'esrgan_jax.weights.unet_discriminator',
    'esrgan_jax.cpu_kernels.onednn_conv',
  ],
)
def test_library_imports_without_tensorflow(module):
  result = subprocess.run([sys.executable, '-c', CHECK_MODULES.format(module=module)], capture_output=True, text=True)
  assert result.returncode == 0, result.stderr


def test_configs_import_only_ml_collections():
  script = """
import sys
from esrgan_jax import configs
config = configs.load_config_file(sys.argv[1])
loaded = sorted(m for m in ('jax', 'flax', 'tensorflow', 'tensorflow_datasets') if m in sys.modules)
assert not loaded, loaded
print(config.psnr.num_steps)
"""
  for name in ('demo', 'gan', 'esrgan', 'gpu', 'tpu', 'ablation/srgan_bn', 'realesrgan_demo'):
    path = configs.resolve(name).partition(':')[0]
    result = subprocess.run([sys.executable, '-c', script, path], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_bundled_configs_resolve_by_name(tmp_path):
  assert configs.resolve('demo') == str(configs.CONFIGS_DIR / 'demo.py')
  assert configs.resolve('ablation/esrgan.py') == str(configs.CONFIGS_DIR / 'ablation' / 'esrgan.py')
  assert configs.resolve('gan:arg') == str(configs.CONFIGS_DIR / 'gan.py') + ':arg'
  own = tmp_path / 'demo'
  own.write_text('')
  assert configs.resolve(str(own)) == str(own)  # an existing path wins over a bundled name
  assert configs.resolve('no_such_config') == 'no_such_config'  # left for config_flags to report
