"""The `--help` layout of the argparse tools: the description as written, and every option's default; the options
several tools share."""

import argparse

from esrgan_jax import runtime


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
  """Keeps the description's line breaks and ends each option's help with '(default: X)', unless the help already
  says what its default means ('default: the model scale')."""

  def _get_help_string(self, action: argparse.Action) -> str:
    if 'default' in (action.help or ''):
      return action.help
    return super()._get_help_string(action)


def add_compile_cache_flag(parser: argparse.ArgumentParser) -> None:
  """`--no-compile-cache`: `args.compile_cache` is False with it; without it the tools call
  `runtime.use_compile_cache`."""
  parser.add_argument(
    '--no-compile-cache',
    dest='compile_cache',
    action='store_false',
    help=f'do not keep compiled programs on disk (default: keep them; also {runtime.COMPILE_CACHE_ENV}=off)',
  )
