"""One-line messages for mistakes on `python -m esrgan_jax.main`'s command line: an unknown config field, a value of
the wrong type, a config file that does not exist. Each names the flag, the value and the fix."""

import re
from collections.abc import Sequence

FIELDS_DOC = 'esrgan_jax/training/default_config.py'  # every field with a comment
_VERBOSITY = re.compile(r'--?(?:v|verbosity)(?:=|$)(-?\d*)')


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


def describe(error: Exception, argv: Sequence[str]) -> str:
  """A one-line message for an error raised while parsing main's flags (absl, ml_collections or the config file)."""
  text = ' '.join(str(error).split())
  if isinstance(error, (KeyError, AttributeError)) and (message := _unknown_field(error, argv)):
    return message
  missing = re.search(r'No such file or directory: (\S+)', str(error))
  if isinstance(error, OSError) and missing:
    return (
      f'--config: no config file {missing[1]}; give a file like configs/demo.py or the name of a bundled config '
      f'(demo, psnr, gan, psnr_x2, gan_x2, ablation/esrgan, ...).'
    )
  bad_value = re.match(r'flag (--config\.[\w.]+)=(.*?): (.*)', text)
  if bad_value:
    flag, value, reason = bad_value.groups()
    return f'{flag}={value}: bad value {value!r} ({reason}); give a value of the type in {FIELDS_DOC}.'
  return f'{text}{"" if text.endswith(".") else "."} See --help; config fields are in {FIELDS_DOC}.'
