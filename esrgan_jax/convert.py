"""Converts official PyTorch ESRGAN weights into esrgan_jax model files, and our networks back into `.pth` files.

Reads `.pth` files with `esrgan_jax.weights.torch_io` (no torch needed, no pickle code run). RRDBNet generators come
in three key schemes (`GENERATOR_SCHEMES`): BasicSR / Real-ESRGAN, the ESRGAN repo of 2019 and the oldest `model.N`
Sequential one; BasicSR's MSRResNet (SRResNet) is recognised by its keys too. Either may be wrapped as BasicSR's
`{'params': sd, 'params_ema': sd}` and/or carry DataParallel's `module.` prefix. The architecture (block count,
widths, scale) is inferred from the keys and shapes. Usage:

  python -m esrgan_jax.convert generator RRDB_ESRGAN_x4.pth esrgan_x4.msgpack [--params-key params]
  python -m esrgan_jax.convert discriminator net_d.pth net_d.msgpack
  python -m esrgan_jax.convert vgg19 vgg19-dcbb9e9d.pth [OUT]     # OUT default: the weights directory
  python -m esrgan_jax.convert minc VGG16minc_53.pth [OUT]
  python -m esrgan_jax.convert to-pth esrgan_x4.msgpack esrgan_x4.pth [--key params]
"""

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from esrgan_jax import cli_help
from esrgan_jax.models.discriminator import VGGStyleDiscriminator
from esrgan_jax.weights import model_io, perceptual, torch_io
from esrgan_jax.weights.state_dicts import (
  WRAPPER_KEYS,
  describe_discriminator,
  describe_generator,
  discriminator_from_torch,
  discriminator_to_torch,
  generator_from_torch_with_scheme,
  generator_to_torch,
)


def _param_count(params: Any) -> str:
  return f'{sum(np.size(x) for x in jax.tree.leaves(params)):,}'


def _convert_generator(args: argparse.Namespace) -> None:
  scheme, module, params = generator_from_torch_with_scheme(torch_io.load_state_dict(args.input), args.params_key)
  model_io.save_generator(args.output, module, params)
  print(
    f'{args.input}: {scheme} key names -> {describe_generator(module)}, {_param_count(params)} params; '
    f'wrote {args.output}'
  )


def _convert_discriminator(args: argparse.Namespace) -> None:
  module, variables = discriminator_from_torch(torch_io.load_state_dict(args.input), args.params_key)
  config = {field: getattr(module, field) for field in ('num_in_ch', 'num_feat', 'input_size')}
  model_io.save_model(args.output, 'VGGStyleDiscriminator', config, variables)
  print(
    f'{args.input}: {describe_discriminator(module)}, {_param_count(variables["params"])} params; wrote {args.output}'
  )


def _convert_perceptual(args: argparse.Namespace) -> None:
  row = perceptual.network(args.network)
  params = row.from_torch(torch_io.load_state_dict(args.input))
  output = perceptual.weights_path(args.network, args.output)
  model_io.save_model(output, row.arch, {}, {'params': params})
  print(f'{args.input}: {row.arch} params ({_param_count(params)}); wrote {output}')


def _export_pth(args: argparse.Namespace) -> None:
  arch, config, variables = model_io.load_model(args.input)
  if arch in model_io.GENERATOR_ARCHS:
    module = model_io.GENERATOR_ARCHS[arch](**config)
    state, wrapper_keys = generator_to_torch(module, variables['params']), ('params', 'params_ema')
    what = describe_generator(module)
  elif arch == 'VGGStyleDiscriminator':
    module = VGGStyleDiscriminator(**config)
    state, wrapper_keys = discriminator_to_torch(module, variables), ('params',)
    what = describe_discriminator(module)
  else:
    raise ValueError(
      f'{args.input} holds {arch}; to-pth exports generators ({", ".join(model_io.GENERATOR_ARCHS)}) '
      'and discriminators.'
    )
  wrapper_keys = (args.key,) if args.key else wrapper_keys
  torch_io.save_state_dict(args.output, {key: state for key in wrapper_keys})
  print(f'{args.input}: {what} -> BasicSR key names under {" and ".join(wrapper_keys)}; wrote {args.output}')


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
    prog='python -m esrgan_jax.convert', description=__doc__.split('\n')[0], formatter_class=cli_help.HelpFormatter
  )
  commands = parser.add_subparsers(dest='command', required=True)
  for name, run, what in (
    ('generator', _convert_generator, 'an RRDBNet (any of the three key schemes) or MSRResNet'),
    ('discriminator', _convert_discriminator, "BasicSR's VGGStyleDiscriminator"),
  ):
    command = commands.add_parser(
      name, help=f'.pth of {what} -> esrgan_jax model file', formatter_class=cli_help.HelpFormatter
    )
    command.add_argument('input', help='.pth file (torch zip or legacy format)')
    command.add_argument('output', help='model file to write (.msgpack)')
    command.add_argument(
      '--params-key',
      choices=WRAPPER_KEYS,
      default=None,
      help='state dict to take from a BasicSR checkpoint (default: params_ema if present)',
    )
    command.set_defaults(run=run)
  for name, row in perceptual.PERCEPTUAL_NETWORKS.items():
    command = commands.add_parser(
      name, help=f'{row.official_file} -> {row.arch} params (perceptual loss)', formatter_class=cli_help.HelpFormatter
    )
    command.add_argument('input', help=f'the official {row.official_file}')
    command.add_argument(
      'output',
      nargs='?',
      default=None,
      help=f'model file to write (default: {row.file_name} in the weights directory, '
      f'{perceptual.weights_path(name).parent}, where training looks for it; see '
      '$ESRGAN_JAX_WEIGHTS)',
    )
    command.set_defaults(run=_convert_perceptual, network=name)
  to_pth = commands.add_parser(
    'to-pth',
    help='esrgan_jax generator/discriminator file -> BasicSR-style .pth',
    formatter_class=cli_help.HelpFormatter,
  )
  to_pth.add_argument('input', help='model file written by esrgan_jax')
  to_pth.add_argument('output', help='.pth to write (torch zip format)')
  to_pth.add_argument(
    '--key',
    choices=WRAPPER_KEYS,
    default=None,
    help='write only this state dict (default: params and params_ema for a generator)',
  )
  to_pth.set_defaults(run=_export_pth)
  return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the CLI; returns 0 on success, 2 when the input is missing, unsafe or does not fit (printed to stderr)."""
  args = _parse_args(argv)
  try:
    args.run(args)
  except (FileNotFoundError, ValueError) as e:  # ValueError includes torch_io.UnsafeCheckpointError.
    print(f'Cannot convert {args.input}: {e}', file=sys.stderr)
    return 2
  return 0


if __name__ == '__main__':
  sys.exit(main())
