"""Upscale image files with a generator: `python -m esrgan_jax.upscale -i FILE_OR_DIR -o OUTDIR --model PATH`.

Folders are walked recursively and mirrored under OUTDIR as `{stem}_{suffix}.{ext}`. 8/16-bit PNG/TIFF keep their
depth; grayscale stays grayscale (run as RGB with equal channels, then BT.601 luma); an alpha channel is upscaled
separately (MATLAB bicubic, or through the network with `--alpha-upsampler network`) and written as PNG.
`--tile N` runs large images in blended overlapping tiles (see `esrgan_jax.inference.tiling`). A file that cannot be
read or written is reported and skipped; the exit code is 1 when any file failed.
"""

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import tqdm

from esrgan_jax import cli_help, runtime
from esrgan_jax.data.image_io import IMAGE_EXTENSIONS, ImageReadError, list_images, read_image_raw, write_image
from esrgan_jax.inference.apply import make_apply_fn, upscale_array
from esrgan_jax.inference.interpolation import load_denoise_blend
from esrgan_jax.weights.generator_files import load_any_generator


def output_path(in_path: Path, in_root: Path, out_dir: Path, suffix: str, ext: str, has_alpha: bool) -> Path:
  """OUTDIR / (in_path relative to in_root) with `_{suffix}` added and extension `ext` ('auto' keeps it)."""
  relative = in_path.relative_to(in_root) if in_root.is_dir() else Path(in_path.name)
  extension = in_path.suffix if ext == 'auto' else f'.{ext}'
  if has_alpha:
    extension = '.png'
  stem = f'{relative.stem}_{suffix}' if suffix else relative.stem
  return out_dir / relative.parent / f'{stem}{extension}'


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
    prog='python -m esrgan_jax.upscale', description=__doc__.split('\n')[0], formatter_class=cli_help.HelpFormatter
  )
  parser.add_argument('-i', '--input', required=True, type=Path, help='an image file or a folder (recursive)')
  parser.add_argument('-o', '--output', required=True, type=Path, help='output folder')
  parser.add_argument('--model', required=True, type=Path, help='generator file (ours, or a PyTorch .pth)')
  parser.add_argument(
    '--denoise-strength',
    type=float,
    default=None,
    help="Real-ESRGAN's denoise strength: blend --model (1: realesr-general-x4v3) with --wdn-model (0)",
  )
  parser.add_argument('--wdn-model', type=Path, default=None, help='realesr-general-wdn-x4v3, for --denoise-strength')
  parser.add_argument('--tile', type=int, default=0, help='core tile size in input pixels; 0 = whole image')
  parser.add_argument('--tile-pad', type=int, default=16, help='context pixels on each tile side (overlap = 2x)')
  parser.add_argument('--batch-tiles', type=int, default=4, help='tiles per network call')
  parser.add_argument('--suffix', default='out', help="appended to output names as '_SUFFIX'; '' for none")
  parser.add_argument(
    '--ext',
    choices=('auto', 'png', 'jpg'),
    default='auto',
    help='output format; auto keeps the input format (images with alpha are always PNG)',
  )
  parser.add_argument('--outscale', type=float, default=None, help='final scale (default: the model scale)')
  parser.add_argument(
    '--alpha-upsampler',
    choices=('bicubic', 'network'),
    default='bicubic',
    help='how the alpha channel of RGBA inputs is upscaled',
  )
  precision = parser.add_mutually_exclusive_group()
  precision.add_argument('--fp32', dest='bf16', action='store_false', help='float32 compute (default)')
  precision.add_argument('--bf16', dest='bf16', action='store_true', help='bfloat16 compute, float32 params')
  parser.set_defaults(bf16=False)
  parser.add_argument('--overwrite', action='store_true', help='allow an output to replace an input file')
  args = parser.parse_args(argv)
  if not args.input.exists():
    parser.error(f'input {args.input} does not exist.')
  if args.outscale is not None and args.outscale <= 0:
    parser.error(f'--outscale must be positive, got {args.outscale}.')
  if (args.denoise_strength is None) != (args.wdn_model is None):
    parser.error('--denoise-strength and --wdn-model go together (realesr-general-x4v3 in --model).')
  if args.tile < 0 or args.tile_pad < 0 or args.batch_tiles < 1:
    parser.error('--tile and --tile-pad must be >= 0 and --batch-tiles >= 1.')
  return args


def _upscale_file(
  in_path: Path, args: argparse.Namespace, inputs: set[Path], upscale: Callable[..., np.ndarray]
) -> Path:
  """Reads, upscales and writes one file; returns the output path. Raises on unreadable or protected files."""
  pixels, bits = read_image_raw(in_path)
  has_alpha = pixels.ndim == 3 and pixels.shape[-1] in (2, 4)
  out_path = output_path(in_path, args.input, args.output, args.suffix, args.ext, has_alpha)
  if out_path.resolve() in inputs and not args.overwrite:
    raise FileExistsError(f'the output {out_path} is an input file; pass --overwrite, or pick another -o/--suffix.')
  out = upscale(pixels.astype(np.float32) / (2**bits - 1))
  out_path.parent.mkdir(parents=True, exist_ok=True)
  write_image(out_path, out, bit_depth=8 if out_path.suffix.lower() in ('.jpg', '.jpeg') else bits)
  return out_path


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the CLI; returns the exit code (0 all written, 1 some files failed, 2 unusable model)."""
  args = _parse_args(argv)
  files = list_images(args.input)
  if not files:
    print(f'No images ({", ".join(IMAGE_EXTENSIONS)}) found in {args.input}.', file=sys.stderr)
    return 1
  try:
    dtype = jnp.bfloat16 if args.bf16 else None
    if args.wdn_model:
      module, params = load_denoise_blend(args.model, args.wdn_model, args.denoise_strength, dtype)
    else:
      module, params = load_any_generator(args.model, dtype)
  except (FileNotFoundError, ValueError) as e:
    print(f'Cannot load --model: {e}', file=sys.stderr)
    return 2
  if module.num_in_ch != 3 or module.num_out_ch != 3:
    print(f'--model must map RGB to RGB, got {module.num_in_ch} -> {module.num_out_ch} channels.', file=sys.stderr)
    return 2
  upscale = functools.partial(
    upscale_array,
    make_apply_fn(module, params),
    scale=module.scale,
    outscale=args.outscale,
    alpha_upsampler=args.alpha_upsampler,
    tile=args.tile,
    tile_pad=args.tile_pad,
    batch_tiles=args.batch_tiles,
    progress=args.tile > 0,
  )
  inputs = {p.resolve() for p in files}
  failed = []
  for in_path in tqdm.tqdm(files, desc='images', unit='img', disable=len(files) == 1):
    try:
      out_path = _upscale_file(in_path, args, inputs, upscale)
      tqdm.tqdm.write(f'{in_path} -> {out_path}')
    except (ImageReadError, OSError, ValueError) as e:
      failed.append(in_path)
      tqdm.tqdm.write(f'skipped {in_path}: {e}', file=sys.stderr)
  if failed:
    print(f'{len(failed)} of {len(files)} images failed: {", ".join(map(str, failed))}', file=sys.stderr)
  return 1 if failed else 0


if __name__ == '__main__':
  runtime.use_fast_cpu_flags()
  sys.exit(main())
