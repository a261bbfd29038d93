"""One-line messages for mistakes on the command line of the config-file tools (`main`, `aot`): an unknown config
field, a value of the wrong type, a config file that does not exist. Each names the flag, the value and the fix."""

import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import ml_collections

from esrgan_jax.configs import ConfigArgError

FIELDS_DOC = 'esrgan_jax/configs/default.py'  # every field with a comment
_VERBOSITY = re.compile(r'--?(?:v|verbosity)(?:=|$)(-?\d*)')


def exit_with(message: str, code: int = 2) -> None:
  """Prints `error: message` on stderr and exits with `code`."""
  print(f'error: {message}', file=sys.stderr)
  sys.exit(code)


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing (an `app.run` flags_parser) for a tool with a `--config` file flag: config mistakes in one
  line (exit 2), `--help` exits 0 (absl's exits 1); `--verbosity=1` keeps the traceback."""
  from absl import flags  # pylint: disable=g-import-not-at-top

  try:
    args = flags.FLAGS(argv)
    check_loaded(flags.FLAGS.config)
  except SystemExit as e:
    sys.exit(0 if e.code == 1 else e.code)
  except Exception as e:  # noqa: BLE001  (absl, ml_collections and the config file raise many kinds)
    if wants_traceback(argv):
      raise
    exit_with(describe(e, argv))
  return args


def wants_traceback(argv: Sequence[str]) -> bool:
  """Whether argv asks for absl verbosity >= 1 (`--verbosity=1`, `-v 1`): then errors keep their traceback."""
  for i, arg in enumerate(argv):
    match = _VERBOSITY.fullmatch(arg)
    if match:
      value = match[1] or (argv[i + 1] if i + 1 < len(argv) else '')
      if value.lstrip('-').isdigit() and int(value) >= 1:
        return True
  return False


def _override_args(argv: Sequence[str]) -> list[str]:
  return [arg for arg in argv if arg.startswith('--config.')]


def _unknown_field(error: Exception, argv: Sequence[str]) -> str | None:
  """The message for a `--config.a.b=v` whose field does not exist (ml_collections' KeyError/AttributeError)."""
  text = str(error.args[0]) if error.args else ''
  names = re.findall(r"'(\w+)'", text.replace("\\'", "'"))
  if not names:
    return None
  field = names[0]
  hint = re.search(r'Did you mean "(\w+)"', text)
  flag = next((arg for arg in _override_args(argv) if field in arg.partition('=')[0].split('.')), None)
  path = flag.partition('=')[0].removeprefix('--') if flag else f'config...{field}'
  parent = path.rpartition('.' + field)[0] or 'config'
  suggestion = f'; did you mean {hint[1]!r}?' if hint else '.'
  return (
    f'{flag or "--" + path}: {parent} has no field {field!r}{suggestion} Every field is listed with a comment '
    f'in {FIELDS_DOC}.'
  )


def check_loaded(config: Any) -> None:
  """Raises the error of a config file that failed to load (ml_collections defers it to the first use of the
  config), or TypeError if its get_config() returned something other than a ConfigDict."""
  getattr(config, 'keys', None)
  if not isinstance(config, ml_collections.ConfigDict):
    raise TypeError(f'--config: get_config() returned a {type(config).__name__}, not an ml_collections.ConfigDict.')


def config_file(argv: Sequence[str]) -> str | None:
  """The value of `--config` in argv (the config file), or None."""
  for i, arg in enumerate(argv):
    if arg == '--config' and i + 1 < len(argv):
      return argv[i + 1]
    if arg.startswith('--config='):
      return arg.removeprefix('--config=')
  return None


def _raised_in_file(error: Exception, path: str) -> bool:
  """Whether `error`, or the error that caused it, came from running the config file at `path` (a frame of it, or
  its syntax)."""
  while error is not None:
    if isinstance(error, SyntaxError) and os.path.abspath(error.filename or '') == os.path.abspath(path):
      return True
    if any(os.path.abspath(f.filename) == os.path.abspath(path) for f in traceback.extract_tb(error.__traceback__)):
      return True
    error = error.__cause__ or error.__context__
  return False


def _config_arg_error(error: BaseException | None) -> str | None:
  """The message of the first ConfigArgError in `error`'s chain (ml_collections re-raises it with a traceback as its
  text, and absl wraps that), or None."""
  found = None
  while error is not None:
    if isinstance(error, ConfigArgError):
      found = str(error)  # the innermost is the one raised in get_config, with the plain message
    error = error.__cause__ or error.__context__
  return found


def describe(error: Exception, argv: Sequence[str]) -> str:
  """A one-line message for an error raised while parsing main's flags (absl, ml_collections or the config file)."""
  text = ' '.join(str(error).split())
  if arg_error := _config_arg_error(error):
    return f'--config {arg_error}'
  file = (config_file(argv) or '').partition(':')[0] or None
  if file and "has no attribute 'get_config'" in text:
    return f'--config: {file} defines no get_config(); a config file returns its ml_collections.ConfigDict from it.'
  if file and _raised_in_file(error, file):
    return f'--config: {file} failed to load: {type(error).__name__}: {text}'
  if isinstance(error, (KeyError, AttributeError)) and (message := _unknown_field(error, argv)):
    return message
  missing = re.search(r'No such file or directory: (\S+)', str(error))
  if isinstance(error, OSError) and missing:
    return (
      f'--config: no config file {missing[1]}; give a file like configs/demo.py or the name of a bundled config '
      f'(demo, esrgan, psnr, gan, gpu, tpu, ablation/esrgan, ...).'
    )
  bad_value = re.match(r'flag (--config\.[\w.]+)=(.*?): (.*)', text)
  if bad_value:
    flag, value, reason = bad_value.groups()
    return f'{flag}={value}: bad value {value!r} ({reason}); give a value of the type in {FIELDS_DOC}.'
  return f'{text}{"" if text.endswith(".") else "."} See --help; config fields are in {FIELDS_DOC}.'
