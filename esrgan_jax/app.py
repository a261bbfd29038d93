"""A local web app: drop an image, pick a model or two, slide α: `python -m esrgan_jax.app --models DIR`.

Serves a Gradio page (the `[app]` extra: `pip install "esrgan_jax[app]"`) on http://127.0.0.1:PORT, a free port
unless `--port` names one, and prints the URL. The page offers the model files in DIR (any format `upscale` reads)
and never reads another path; a pair of one architecture (PSNR + GAN RRDBNets, or a Compact model and its `wdn`
twin) gets an α / denoise-strength slider that re-renders without recompiling. No public share link, ever;
`--host 0.0.0.0` opens it to the network. Uploads are capped (`--max-upload-mb`, `--max-megapixels`); one
computation runs at a time, others wait in a queue that shows their position.
"""

import argparse
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from esrgan_jax import cli_help, extras, runtime  # gradio and JAX load in main(): --help answers at once


def free_port(host: str) -> int:
  """A TCP port nobody listens on at `host` now (the OS's pick)."""
  with socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET) as probe:
    probe.bind((host, 0))
    return probe.getsockname()[1]


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
    prog='python -m esrgan_jax.app', description=__doc__.split('\n')[0], formatter_class=cli_help.HelpFormatter
  )
  parser.add_argument(
    '--models',
    required=True,
    type=Path,
    help='folder of model files (.msgpack, .pth, .safetensors); no other file is read',
  )
  parser.add_argument('--host', default='127.0.0.1', help='address to listen on (0.0.0.0: every interface)')
  parser.add_argument('--port', type=int, default=None, help='port (default: a free one, printed)')
  parser.add_argument('--max-upload-mb', type=float, default=50.0, help='largest upload in megabytes')
  parser.add_argument('--max-megapixels', type=float, default=4.0, help='largest input image in megapixels')
  parser.add_argument(
    '--max-memory',
    type=float,
    default=None,
    help='GiB of network activations per call; larger images run in tiles (default: half the available memory, '
    'at most 4)',
  )
  parser.add_argument(
    '--lpips',
    default=None,
    help="LPIPS against an uploaded reference: 'alex', 'vgg' or a converted file (default: off)",
  )
  cli_help.add_compile_cache_flag(parser)
  return parser


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
  parser = _parser()
  args = parser.parse_args(argv)
  if not args.models.is_dir():
    parser.error(f'--models {args.models} is not a folder; pass the folder that holds the model files.')
  if min(args.max_upload_mb, args.max_megapixels) <= 0 or (args.max_memory is not None and args.max_memory <= 0):
    parser.error('--max-upload-mb, --max-megapixels and --max-memory must be positive.')
  if args.port is not None and not 0 < args.port < 65536:
    parser.error(f'--port must be 1-65535, got {args.port}.')
  return args


def make_page(args: argparse.Namespace):
  """The Gradio page for parsed arguments. Raises FileNotFoundError for a folder without model files."""
  from esrgan_jax.inference import memory  # pylint: disable=g-import-not-at-top
  from esrgan_jax.webapp import ui  # pylint: disable=g-import-not-at-top
  from esrgan_jax.webapp.model_dir import ModelDir  # pylint: disable=g-import-not-at-top
  from esrgan_jax.webapp.service import Limits, Upscaler  # pylint: disable=g-import-not-at-top

  limits = Limits(
    max_megapixels=args.max_megapixels,
    max_memory=None if args.max_memory is None else int(args.max_memory * memory.GIB),
  )
  out_dir = Path(tempfile.mkdtemp(prefix='esrgan_app_'))
  return ui.build(Upscaler(ModelDir(args.models), out_dir, limits, lpips=args.lpips))


def start(argv: Sequence[str] | None = None):
  """Parses `argv`, builds the page and serves it from a background thread; returns the gradio page
  (`page.close()` stops it). Raises ImportError without gradio, FileNotFoundError for a folder without models."""
  args = _parse_args(argv)
  from esrgan_jax.webapp import ui  # pylint: disable=g-import-not-at-top  (gradio: the [app] extra)

  if args.compile_cache:
    runtime.use_compile_cache()
  page = make_page(args)
  port = args.port or free_port(args.host)
  print(f'esrgan_jax app: http://{args.host}:{port} (models from {args.models}; Ctrl+C stops it)', flush=True)
  ui.launch(page, args.host, port, int(args.max_upload_mb * 1e6))
  return page


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the app until interrupted; returns the exit code (2: no gradio, or no model files in --models)."""
  try:
    page = start(argv)
  except ImportError as e:
    print(f'{extras.install_hint("app")} ({e})', file=sys.stderr)
    return 2
  except (FileNotFoundError, ValueError) as e:
    print(f'Cannot start the app: {e}', file=sys.stderr)
    return 2
  page.block_thread()
  return 0


if __name__ == '__main__':
  runtime.use_fast_cpu_flags()
  sys.exit(main())
