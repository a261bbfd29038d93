"""Tests for esrgan_jax.extras: each role's extra exists in setup.cfg, and a missing one gives one line and exit 2."""

import configparser
import re
import sys
from pathlib import Path

import pytest

from esrgan_jax import extras

SETUP_CFG = Path(__file__).resolve().parent.parent / 'setup.cfg'


def requirement_names(lines: str) -> set[str]:
  """The distribution names of a setup.cfg requirement list (comments skipped)."""
  return {re.split(r'[<>=~!\[; ]', line.strip())[0] for line in lines.splitlines() if line.strip()[:1] not in ('', '#')}


def test_every_extra_is_in_setup_cfg_and_training_is_not_in_the_base_install():
  config = configparser.ConfigParser()
  config.read(SETUP_CFG)
  assert set(extras.EXTRAS) <= set(config['options.extras_require'])
  train = requirement_names(config['options.extras_require']['train'])
  assert {'tensorflow-cpu', 'tensorflow-datasets', 'tensorboard', 'clu'} <= train
  assert not train & requirement_names(config['options']['install_requires'])
  assert 'esrgan_jax' in requirement_names(config['options.extras_require']['test'])  # esrgan_jax[train]


def test_require_names_the_missing_modules_and_the_pip_install(monkeypatch, capsys):
  monkeypatch.setitem(sys.modules, 'clu', None)  # find_spec answers None, as for a module not installed
  assert extras.missing_modules('train') == ['clu']
  with pytest.raises(SystemExit) as exit_info:
    extras.require('train')
  assert exit_info.value.code == 2
  assert capsys.readouterr().err == (
    "training needs clu: pip install 'esrgan_jax[train]' (in a checkout: pip install -e '.[train]')\n"
  )


def test_require_returns_when_the_extra_is_installed(capsys):
  extras.require('train')  # the [test] extra installs the [train] one
  assert capsys.readouterr().err == ''
