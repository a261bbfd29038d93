"""Converts official PyTorch ESRGAN weights into esrgan_jax model files, and our networks back into `.pth` files.

Reads `.pth` files with `esrgan_jax.weights.torch_io` (no torch needed, no pickle code run) and `.safetensors`
files with the same keys (told apart by content). RRDBNet generators come
in three key schemes (`GENERATOR_SCHEMES`): BasicSR / Real-ESRGAN, the ESRGAN repo of 2019 (also BSRGAN/RealSR) and
the oldest `model.N` Sequential one (also ESRGAN+), x1 to x16; BasicSR's MSRResNet (SRResNet) and Real-ESRGAN's
SRVGGNetCompact are recognised by their keys too. Any may be wrapped as BasicSR's `{'params': sd, 'params_ema': sd}`
and/or carry DataParallel's `module.` prefix. The architecture (block count, widths, scale) is inferred from the keys
and shapes. Usage:

  python -m esrgan_jax.convert generator RRDB_ESRGAN_x4.pth esrgan_x4.msgpack [--params-key params]
  python -m esrgan_jax.convert discriminator net_d.pth net_d.msgpack
  python -m esrgan_jax.convert vgg19 vgg19-dcbb9e9d.pth [OUT]     # OUT default: the weights directory
  python -m esrgan_jax.convert minc VGG16minc_53.pth [OUT]
  python -m esrgan_jax.convert lpips --net vgg --backbone vgg16-397923af.pth --linear vgg.pth [OUT]
  python -m esrgan_jax.convert dists --backbone vgg16-397923af.pth [--alpha-beta weights.pt] [OUT]
  python -m esrgan_jax.convert to-pth esrgan_x4.msgpack esrgan_x4.pth [--key params]
  python -m esrgan_jax.convert to-safetensors esrgan_x4.msgpack esrgan_x4.safetensors
  python -m esrgan_jax.convert to-onnx esrgan_x4.msgpack esrgan_x4.onnx [--fp16]   # needs the [export] extra
"""

import argparse
import functools
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from esrgan_jax import cli_help
from esrgan_jax.weights.locations import weights_dir
from esrgan_jax.weights.official_files import DISTS_FILES, LPIPS_FILES, PERCEPTUAL_FILES, WRAPPER_KEYS

# The converters load JAX and flax: each command imports its own inside, so that --help stays fast.


def _param_count(params: Any) -> str:
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  return f'{sum(np.size(x) for x in jax.tree.leaves(params)):,}'


def _convert_generator(args: argparse.Namespace) -> None:
  from esrgan_jax.weights import model_io  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights.generator_state_dicts import describe_generator, generator_from_torch_with_scheme  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights.state_dict_files import read_state_dict  # pylint: disable=g-import-not-at-top

  scheme, module, params = generator_from_torch_with_scheme(read_state_dict(args.input), args.params_key)
  model_io.save_generator(args.output, module, params)
  print(
    f'{args.input}: {scheme} key names -> {describe_generator(module)}, {_param_count(params)} params; '
    f'wrote {args.output}'
  )


def _convert_discriminator(args: argparse.Namespace) -> None:
  from esrgan_jax.weights import model_io  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights.discriminator_state_dict import describe_discriminator, discriminator_from_torch  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights.state_dict_files import read_state_dict  # pylint: disable=g-import-not-at-top

  module, variables = discriminator_from_torch(read_state_dict(args.input), args.params_key)
  config = {field: getattr(module, field) for field in ('num_in_ch', 'num_feat', 'input_size')}
  model_io.save_model(args.output, 'VGGStyleDiscriminator', config, variables)
  print(
    f'{args.input}: {describe_discriminator(module)}, {_param_count(variables["params"])} params; wrote {args.output}'
  )


def _convert_perceptual(args: argparse.Namespace) -> None:
  from esrgan_jax.weights import model_io, perceptual  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights.state_dict_files import read_state_dict  # pylint: disable=g-import-not-at-top

  network = perceptual.network(args.network)
  if not os.path.isfile(args.input):
    raise FileNotFoundError(
      f'no file {args.input!r}; the {args.network} command reads {network.files.description}. '
      'third_party/vgg_weights/README.md (in a checkout of esrgan_jax) says how to get it.'
    )
  params = network.from_torch(read_state_dict(args.input))
  output = perceptual.weights_path(args.network, args.output)
  model_io.save_model(output, network.files.arch, {}, {'params': params})
  print(f'{args.input}: {network.files.arch} params ({_param_count(params)}); wrote {output}')


def _convert_lpips(args: argparse.Namespace) -> None:
  from esrgan_jax.weights import lpips_weights, model_io  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights.state_dict_files import read_state_dict  # pylint: disable=g-import-not-at-top

  backbone, linear = (read_state_dict(path) for path in (args.backbone, args.linear))
  params = lpips_weights.lpips_from_torch(args.net, backbone, linear)
  output = lpips_weights.weights_path(args.net, args.output)
  model_io.save_model(output, 'LPIPS', {'net': args.net}, {'params': params})
  print(f'{args.backbone} + {args.linear}: LPIPS ({args.net}) params ({_param_count(params)}); wrote {output}')


def _convert_dists(args: argparse.Namespace) -> None:
  from esrgan_jax.weights import dists_weights, model_io  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights.state_dict_files import read_state_dict  # pylint: disable=g-import-not-at-top

  alpha_beta = args.alpha_beta or dists_weights.package_weights()
  params = dists_weights.dists_from_torch(read_state_dict(args.backbone), read_state_dict(alpha_beta))
  output = dists_weights.weights_path(args.output)
  model_io.save_model(output, 'DISTS', {}, {'params': params})
  print(f'{args.backbone} + {alpha_beta}: DISTS params ({_param_count(params)}); wrote {output}')


def _export_pth(args: argparse.Namespace) -> None:
  from esrgan_jax.weights import torch_io  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights.state_dict_files import exported_state_dict  # pylint: disable=g-import-not-at-top

  state, what, wrapper_keys, scheme = exported_state_dict(args.input)
  wrapper_keys = (args.key,) if args.key else wrapper_keys
  torch_io.save_state_dict(args.output, {key: state for key in wrapper_keys})
  print(f'{args.input}: {what} -> {scheme} key names under {" and ".join(wrapper_keys)}; wrote {args.output}')


def _export_safetensors(args: argparse.Namespace) -> None:
  from esrgan_jax.weights import safetensors_io  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights.state_dict_files import exported_state_dict  # pylint: disable=g-import-not-at-top

  state, what, _, scheme = exported_state_dict(args.input)
  safetensors_io.save_state_dict(args.output, state)
  print(f'{args.input}: {what} -> {scheme} key names ({len(state)} tensors); wrote {args.output}')


def _export_onnx(args: argparse.Namespace) -> None:
  from esrgan_jax.weights import model_io, onnx_export  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights.generator_state_dicts import describe_generator  # pylint: disable=g-import-not-at-top

  module, params = model_io.load_generator(args.input)
  for logger in ('jax2onnx', 'onnx_ir'):  # Per-node notes and skipped optional plugins, not problems of the export.
    logging.getLogger(logger).setLevel(logging.ERROR)
  onnx_export.save_onnx(args.output, module, params, fp16=args.fp16, opset=args.opset)
  print(
    f'{args.input}: {describe_generator(module)} -> ONNX opset {args.opset}, {"float16" if args.fp16 else "float32"}, '
    f'input NCHW [batch, {module.num_in_ch}, height, width]; wrote {args.output}'
  )


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
    prog='python -m esrgan_jax.convert', description=__doc__.split('\n')[0], formatter_class=cli_help.HelpFormatter
  )
  commands = parser.add_subparsers(dest='command', required=True)
  add_command = functools.partial(commands.add_parser, formatter_class=cli_help.HelpFormatter)
  for name, run, what in (
    ('generator', _convert_generator, 'an RRDBNet (any key scheme), MSRResNet or SRVGGNetCompact'),
    ('discriminator', _convert_discriminator, "BasicSR's VGGStyleDiscriminator"),
  ):
    command = add_command(name, help=f'.pth of {what} -> esrgan_jax model file')
    command.add_argument('input', help='.pth (torch zip or legacy format) or .safetensors file')
    command.add_argument('output', help='model file to write (.msgpack)')
    command.add_argument(
      '--params-key',
      choices=WRAPPER_KEYS,
      default=None,
      help='state dict to take from a BasicSR checkpoint (default: params_ema if present)',
    )
    command.set_defaults(run=run)
  for name, row in PERCEPTUAL_FILES.items():
    command = add_command(name, help=f'{row.official_file} -> {row.arch} params (perceptual loss)')
    command.add_argument('input', help=f'the official {row.official_file}')
    command.add_argument(
      'output',
      nargs='?',
      default=None,
      help=f'model file to write (default: {row.file_name} in the weights directory, '
      f'{weights_dir()}, where training looks for it; see '
      '$ESRGAN_JAX_WEIGHTS)',
    )
    command.set_defaults(run=_convert_perceptual, network=name)
  lpips = add_command('lpips', help='torchvision backbone + lpips linear layers -> LPIPS metric weights')
  lpips.add_argument('--net', choices=LPIPS_FILES, default='alex', help="LPIPS backbone (default: alex, the package's)")
  lpips.add_argument('--backbone', required=True, help="torchvision's alexnet-owt-7be5be79.pth or vgg16-397923af.pth")
  lpips.add_argument('--linear', required=True, help="the lpips wheel's lpips/weights/v0.1/{alex,vgg}.pth")
  lpips.add_argument(
    'output', nargs='?', default=None, help='model file to write (default: lpips_NET.msgpack in the weights directory)'
  )
  lpips.set_defaults(run=_convert_lpips, input='the LPIPS weights')
  dists = add_command('dists', help='torchvision VGG16 + dists-pytorch alpha/beta -> DISTS metric weights')
  dists.add_argument('--backbone', required=True, help=f"torchvision's {DISTS_FILES.backbone}")
  dists.add_argument(
    '--alpha-beta',
    default=None,
    help=f"the {DISTS_FILES.package} wheel's {DISTS_FILES.package_weights} (default: the installed package's)",
  )
  dists.add_argument(
    'output',
    nargs='?',
    default=None,
    help=f'model file to write (default: {DISTS_FILES.converted} in the weights directory)',
  )
  dists.set_defaults(run=_convert_dists, input='the DISTS weights')
  to_pth = add_command(
    'to-pth', help='esrgan_jax generator/discriminator file -> .pth with BasicSR / Real-ESRGAN / ESRGAN+ key names'
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
  to_safetensors = add_command(
    'to-safetensors', help='esrgan_jax generator/discriminator file -> .safetensors (BasicSR keys; spandrel, chaiNNer)'
  )
  to_safetensors.add_argument('input', help='model file written by esrgan_jax')
  to_safetensors.add_argument('output', help='.safetensors to write')
  to_safetensors.set_defaults(run=_export_safetensors)
  to_onnx = add_command('to-onnx', help='esrgan_jax generator file -> ONNX (NCHW, dynamic batch/height/width)')
  to_onnx.add_argument('input', help='generator file written by esrgan_jax')
  to_onnx.add_argument('output', help='.onnx to write (one file, weights inside)')
  to_onnx.add_argument('--fp16', action='store_true', help='float16 weights, activations, input and output')
  to_onnx.add_argument('--opset', type=int, default=17, help='ONNX opset (15 or newer)')
  to_onnx.set_defaults(run=_export_onnx)
  return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the CLI; returns 0 on success, 2 when the input is missing, unsafe or does not fit (printed to stderr)."""
  args = _parse_args(argv)
  try:
    args.run(args)
  except (FileNotFoundError, ImportError, ValueError) as e:  # ValueError includes torch_io.UnsafeCheckpointError.
    print(f'Cannot convert {args.input}: {e}', file=sys.stderr)
    return 2
  return 0


if __name__ == '__main__':
  sys.exit(main())
