"""The training configs that ship with esrgan_jax: `python -m esrgan_jax.main --config configs/NAME.py` in a checkout
(where `configs/` points here), or `--config NAME` anywhere (`resolve`). `default.py` holds every field with a
comment; the others start from it. A config file may take an argument after ':' (`--config configs/esrgan.py:
stage=gan,scale=2`), which ml_collections passes to its `get_config(arg)`; `parse_arg` reads it.

Nothing here imports JAX or TensorFlow, so `main` loads and checks a config before either starts.
"""

import importlib.util
import os
from pathlib import Path
from typing import Any

import ml_collections

CONFIGS_DIR = Path(__file__).resolve().parent


class ConfigArgError(ValueError):
  """A bad `--config FILE:ARG` argument (an unknown key or a value out of range); the message names the fix."""


def resolve(config: str) -> str:
  """The config file a `--config` value names: an existing path (with an optional ':arg' suffix) as given, else a
  bundled config by name ('demo', 'ablation/esrgan', 'demo.py'). Unknown names come back unchanged."""
  path, _, arg = config.partition(':')
  if os.path.exists(path):
    return config
  bundled = CONFIGS_DIR / (path if path.endswith('.py') else f'{path}.py')
  if bundled.is_file():
    return str(bundled) + (f':{arg}' if arg else '')
  return config


def resolve_argv(argv: list[str]) -> list[str]:
  """argv with a bundled config's name after --config replaced by its file (see `resolve`)."""
  out = list(argv)
  for i, arg in enumerate(out):
    if arg == '--config' and i + 1 < len(out):
      out[i + 1] = resolve(out[i + 1])
    elif arg.startswith('--config='):
      out[i] = '--config=' + resolve(arg.removeprefix('--config='))
  return out


def _shown(values: tuple | range) -> str:
  return f'{values[0]}..{values[-1]}' if isinstance(values, range) else '|'.join(map(str, values))


def parse_arg(arg: str | None, file: str, **choices: tuple | range) -> dict[str, Any]:
  """The values of a config argument 'key=value,key=value' (big_vision's `get_config(arg)` form).

  `choices[key]` lists the values `key` takes (a tuple, its default first, or a range of ints starting at the
  default); a value is read as the type of that default (int or str). A key left out takes its default. Raises
  ConfigArgError naming an unknown key, a malformed pair or a value not among the choices, with the form that `file`
  (the config's name, for the message) accepts.
  """
  usage = ','.join(f'{key}={_shown(values)}' for key, values in choices.items())
  values = {key: options[0] for key, options in choices.items()}
  for pair in filter(None, (arg or '').split(',')):
    key, sep, text = pair.partition('=')
    key, text = key.strip(), text.strip()
    if not sep or key not in choices:
      problem = f'{pair!r} is not key=value' if not sep else f'unknown key {key!r}'
      raise ConfigArgError(f'{file}:{arg}: {problem}; {file} takes {usage}.')
    is_int = isinstance(choices[key][0], int)
    value = int(text) if is_int and text.lstrip('-').isdigit() else text
    if value not in choices[key]:
      raise ConfigArgError(f'{file}:{arg}: {key}={text} is not one of {_shown(choices[key])}; {file} takes {usage}.')
    values[key] = value
  return values


def load_config_file(path: str | os.PathLike) -> ml_collections.ConfigDict:
  """`get_config()` of a config file, as `--config PATH` loads it (e.g. to build one config on another); a
  'PATH:ARG' string passes ARG to `get_config(ARG)`."""
  path, sep, arg = str(path).partition(':') if isinstance(path, str) else (path, '', '')
  path = Path(path)
  if not path.is_file():
    raise FileNotFoundError(f'No config file at {path}.')
  spec = importlib.util.spec_from_file_location(f'esrgan_config_{path.stem}', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg) if sep else module.get_config()
