"""Every tool's --help shows each option's default; no tool prints warnings that are not about the user's input."""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = ('upscale', 'evaluate', 'convert', 'interpolate', 'prepare', 'ablation', 'app')
CONVERT_COMMANDS = ('generator', 'discriminator', 'vgg19', 'minc', 'to-pth')
ROOT = Path(__file__).resolve().parent.parent


def help_text(tool: str, *argv: str, capsys) -> str:
  with pytest.raises(SystemExit) as exit_info:
    importlib.import_module(f'esrgan_jax.{tool}').main([*argv, '--help'])
  assert exit_info.value.code == 0
  return capsys.readouterr().out


def option_helps(text: str) -> dict[str, str]:
  """{option: its help text} from argparse's option list (options only, not positionals)."""
  options = text.partition('options:\n')[2]
  blocks = re.split(r'\n(?=  -)', options)
  return {block.split()[0].rstrip(','): ' '.join(block.split()) for block in blocks if block.startswith('  -')}


@pytest.mark.parametrize(
  'tool, argv', [(tool, ()) for tool in TOOLS] + [('convert', (command,)) for command in CONVERT_COMMANDS]
)
def test_every_option_shows_its_default_once(tool, argv, capsys):
  helps = option_helps(help_text(tool, *argv, capsys=capsys))
  assert helps
  for option, text in helps.items():
    if option != '-h':
      assert text.count('default') == 1, f'{tool} {option}: {text}'


def test_python_m_tool_prints_no_runtime_warning(tmp_path):
  """`python -m esrgan_jax.interpolate` once printed runpy's "found in sys.modules" RuntimeWarning on every run."""
  result = subprocess.run(
    [sys.executable, '-W', 'default', '-m', 'esrgan_jax.interpolate', '--help'],
    capture_output=True,
    text=True,
    env={**os.environ, 'PYTHONPATH': str(ROOT)},
    timeout=300,
  )
  assert result.returncode == 0 and result.stderr == ''


# What --help must not load: JAX, TensorFlow and the rest of the [train] extra, torch, and scipy (NIQE's, 0.4 s).
HEAVY_MODULES = ('jax', 'flax', 'tensorflow', 'tensorflow_datasets', 'tensorboard', 'clu', 'torch', 'scipy')


@pytest.mark.parametrize(
  'tool, argv',
  [
    pytest.param(tool, (), id=tool)
    for tool in ('evaluate', 'upscale', 'interpolate', 'app', 'convert', 'prepare', 'main')
  ]
  + [
    pytest.param('convert', (command,), id=f'convert {command}')
    for command in (*CONVERT_COMMANDS, 'lpips', 'dists', 'to-safetensors', 'to-onnx')
  ],
)
def test_help_loads_no_jax_nor_tensorflow(tool, argv):
  """--help answers at once: the parsers read plain tables (`weights.official_files`), the tools load JAX later, and
  TensorFlow only where training needs it."""
  probe = (
    f'import runpy, sys\nsys.argv = ["{tool}", *{list(argv)!r}, "--help"]\n'
    f'try:\n  runpy.run_module("esrgan_jax.{tool}", run_name="__main__")\nexcept SystemExit as e:\n'
    f'  print("exit", e.code, [m for m in {HEAVY_MODULES!r} if m in sys.modules])\n'
  )
  result = subprocess.run(
    [sys.executable, '-c', probe],
    capture_output=True,
    text=True,
    env={**os.environ, 'PYTHONPATH': str(ROOT)},
    timeout=300,
  )
  assert result.stdout.splitlines()[-1] == 'exit 0 []', result.stdout + result.stderr
