"""The training configs that ship with esrgan_jax: `python -m esrgan_jax.main --config configs/NAME.py` in a checkout
(where `configs/` points here), or `--config NAME` anywhere (`resolve`)."""

import os
from pathlib import Path

CONFIGS_DIR = Path(__file__).resolve().parent


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
