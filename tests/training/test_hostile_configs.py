"""Fuzzing `main`'s config handling (hypothesis): `--config.FIELD=VALUE` overrides of every field with values of any
type, and broken config files. Parsing either succeeds or fails with an error `config_errors.describe` turns into one
line; a parsed config is either valid or refused by `config_checks.check`/`input_problems` with ValueError or
FileNotFoundError (what `main` reports in one line, exit 2) - never another exception type."""

import sys
from pathlib import Path

import ml_collections
import pytest
from absl import flags
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ml_collections import config_flags

from esrgan_jax.training import config_checks, config_errors

FUZZ = settings(
  max_examples=80, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
TINY_CONFIG = str(Path(__file__).resolve().parents[1] / 'tiny_config.py')


def parse(config_file: str, overrides: list[str]) -> ml_collections.ConfigDict:
  """main's config flag, on its own FlagValues: the loaded config with `overrides` applied."""
  sys.modules.pop('config_config', None)  # ml_collections reruns a config file in the module of the last one
  values = flags.FlagValues()
  config_flags.DEFINE_config_file('config', None, 'training config', flag_values=values, lock_config=True)
  values(['main', f'--config={config_file}', *overrides])
  config_errors.check_loaded(values.config)
  return values.config


def leaf_fields(config: ml_collections.ConfigDict, prefix: str = '') -> list[str]:
  fields = []
  for name, value in config.items():
    path = f'{prefix}{name}'
    fields += leaf_fields(value, path + '.') if isinstance(value, ml_collections.ConfigDict) else [path]
  return fields


FIELDS = sorted(leaf_fields(parse(TINY_CONFIG, [])))
VALUES = st.one_of(
  st.integers(-(2**33), 2**33).map(str),
  st.sampled_from(['0', '-1', '1e400', 'nan', '-inf', 'True', 'None', '()', '("psnr",)', '("x", 1)', '[]', '{}']),
  st.floats(allow_nan=True, allow_infinity=True).map(repr),
  st.text(max_size=10),
)


def one_line(error: Exception, argv: list[str]) -> str:
  message = config_errors.describe(error, argv)
  assert message and '\n' not in message, message
  return message


@FUZZ
@given(overrides=st.lists(st.tuples(st.sampled_from(FIELDS), VALUES), min_size=1, max_size=3))
def test_overrides_parse_or_fail_in_one_line_and_validate_or_fail_documented(overrides, tmp_path_factory):
  argv = [f'--config.{field}={value}' for field, value in overrides]
  try:
    config = parse(TINY_CONFIG, argv)
  except Exception as e:  # noqa: BLE001  (main catches every parse error and prints describe's line)
    one_line(e, argv)
    return
  try:
    config_checks.check(config)
    config_checks.input_problems(config, tmp_path_factory.mktemp('run'))
  except (ValueError, FileNotFoundError) as e:
    assert str(e) and str(e).count('\n') < 3, e


BROKEN_FILES = [
  'def get_config(:\n',  # syntax error
  'x = 1\n',  # no get_config
  'def get_config():\n  return 42\n',  # not a ConfigDict
  'def get_config():\n  raise RuntimeError("boom")\n',
  'import no_such_module_anywhere\n',
  '',
]


@pytest.mark.parametrize('source', BROKEN_FILES, ids=range(len(BROKEN_FILES)))
def test_broken_config_files_fail_in_one_line(source, tmp_path):
  (tmp_path / 'bad_config.py').write_text(source)
  argv = [f'--config={tmp_path / "bad_config.py"}']
  with pytest.raises(Exception) as error:  # noqa: B017  (any type: main turns each into describe's one line)
    parse(str(tmp_path / 'bad_config.py'), [])
  message = one_line(error.value, argv)
  assert message.startswith(f'--config: {tmp_path / "bad_config.py"} ') or 'get_config() returned a int' in message


@FUZZ
@given(source=st.text(max_size=40))
def test_random_config_file_text_fails_in_one_line_or_loads(source, tmp_path_factory):
  path = tmp_path_factory.mktemp('cfg') / 'random_config.py'
  path.write_text(source)
  try:
    parse(str(path), [])
  except Exception as e:  # noqa: BLE001
    one_line(e, [f'--config={path}'])
