"""The `--help` layout of the argparse tools: the description as written, and every option's default."""

import argparse


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
  """Keeps the description's line breaks and ends each option's help with '(default: X)', unless the help already
  says what its default means ('default: the model scale')."""

  def _get_help_string(self, action: argparse.Action) -> str:
    if 'default' in (action.help or ''):
      return action.help
    return super()._get_help_string(action)
