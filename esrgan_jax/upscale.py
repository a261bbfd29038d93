"""Upscale image files with a generator: `python -m esrgan_jax.upscale -i FILE_OR_DIR -o OUTDIR --model PATH`.

`--model` takes an esrgan_jax model file or an official PyTorch `.pth` (converted in memory, no code run from it).
Folders are walked recursively and mirrored under OUTDIR as `{stem}_{suffix}.{ext}`. 8/16-bit PNG/TIFF keep their
depth; grayscale stays grayscale (run as RGB with equal channels, then BT.601 luma); an alpha channel is upscaled
separately (MATLAB bicubic, or through the network with `--alpha-upsampler network`) and written as PNG.
`--tile auto` (the default) runs an image whole when the network's memory for it fits `--max-memory`, else in
blended overlapping tiles as large as fit (see `esrgan_jax.inference.tiling`), one per call. `--tile N` runs
one tile per call on AMD CPUs without AVX-512 (the one-device program, with Winograd convs), else a batch of them split
over the devices (on CPU one device per core: `esrgan_jax.runtime.use_cpu_device_per_core`). Compiled programs are
cached on disk (`esrgan_jax.runtime.use_compile_cache`), so a second run on the same image sizes compiles nothing.
A file that cannot be read or written is reported and skipped; the exit code is 1 when any file failed. Ctrl-C
stops after a summary of what was done (exit 130); outputs are written under a temporary name and renamed, so an
interrupted image leaves no truncated file.
Videos (`esrgan_jax.video.VIDEO_EXTENSIONS`, in a folder beside images too) go through the same network, tiling,
`--outscale` and precision, frames batched on the devices, every other stream copied; a killed run resumes from its
last finished segment (see docs/video.md).
"""

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from esrgan_jax import cli_help, runtime  # JAX, Flax and the image codecs load in main(): --help answers at once

EXTENSIONS = ('auto', 'png', 'jpg', 'webp', 'tif', 'bmp')
VIDEO_EXTENSIONS = ('mp4', 'mkv', 'mov', 'webm')  # --ext choices for videos (an image --ext leaves videos alone)
DEEP_FORMATS = ('.png', '.tif', '.tiff')  # formats that keep 16 bits


def output_path(in_path: Path, in_root: Path, out_dir: Path, suffix: str, ext: str, has_alpha: bool) -> Path:
  """OUTDIR / (in_path relative to in_root) with `_{suffix}` added and extension `ext` ('auto' keeps it)."""
  relative = in_path.relative_to(in_root) if in_root.is_dir() else Path(in_path.name)
  extension = in_path.suffix if ext == 'auto' else f'.{ext}'
  if has_alpha:
    extension = '.png'
  stem = f'{relative.stem}_{suffix}' if suffix else relative.stem
  return out_dir / relative.parent / f'{stem}{extension}'


def _tile(value: str) -> int | None:
  """--tile: 'auto' (None) or a size >= 0."""
  if value == 'auto':
    return None
  if not value.isdigit():
    raise argparse.ArgumentTypeError(f"expected 'auto' or a tile size >= 0 (0 = whole image), got {value!r}")
  return int(value)


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
    prog='python -m esrgan_jax.upscale', description=__doc__.split('\n')[0], formatter_class=cli_help.HelpFormatter
  )
  parser.add_argument('-i', '--input', required=True, type=Path, help='an image file or a folder (recursive)')
  parser.add_argument('-o', '--output', required=True, type=Path, help='output folder')
  parser.add_argument(
    '--model', required=True, type=Path, help='generator: esrgan_jax model file, PyTorch .pth or .safetensors'
  )
  parser.add_argument(
    '--tile',
    type=_tile,
    default=None,
    metavar='auto|N',
    help='largest core tile in input pixels; 0 = whole image; auto = whole image if it fits --max-memory, '
    'else the largest tile that does (default: auto)',
  )
  parser.add_argument(
    '--denoise-strength',
    type=float,
    default=None,
    help="Real-ESRGAN's denoise strength: blend --model (1: realesr-general-x4v3) with --wdn-model (0)",
  )
  parser.add_argument('--wdn-model', type=Path, default=None, help='realesr-general-wdn-x4v3, for --denoise-strength')
  parser.add_argument('--tile-pad', type=int, default=16, help='context pixels on each tile side (overlap = 2x)')
  parser.add_argument(
    '--max-memory',
    type=float,
    default=None,
    help='GiB the network may use for --tile auto (default: half the available memory, at most 4)',
  )
  parser.add_argument(
    '--batch-tiles',
    type=int,
    default=None,
    help='tiles per network call, split over the devices (default with --tile N: 1 on AMD CPUs without AVX-512, where '
    'one tile at a time runs Winograd convs, else one per device, on CPU one per core; with --tile auto: 1, the '
    'largest window --max-memory allows)',
  )
  parser.add_argument('--suffix', default='out', help="appended to output names as '_SUFFIX'; '' for none")
  parser.add_argument(
    '--ext',
    choices=EXTENSIONS + VIDEO_EXTENSIONS,
    default='auto',
    help='output format; auto keeps the input format (images with alpha are always PNG); an image format applies to '
    'images, a video container to videos',
  )
  video = parser.add_argument_group('videos')
  video.add_argument('--codec', default=None, help='video encoder (default libx264, webm: libvpx-vp9; ffv1: lossless)')
  video.add_argument('--crf', type=int, default=None, help="the encoder's constant quality (default: the codec's)")
  video.add_argument('--preset', default=None, help="the encoder's speed preset (default: the codec's)")
  video.add_argument(
    '--batch-frames', type=int, default=None, help='frames per network call (default: as many as --max-memory holds)'
  )
  video.add_argument('--segment-frames', type=int, default=240, help='frames per resumable segment')
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
  cli_help.add_compile_cache_flag(parser)
  return parser


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
  parser = _parser()
  args = parser.parse_args(argv)
  if not args.input.exists():
    parser.error(f'input {args.input} does not exist.')
  if args.output.exists() and not args.output.is_dir():
    parser.error(f'-o {args.output} is a file, not a folder; give the folder to write the upscaled images into.')
  if args.outscale is not None and args.outscale <= 0:
    parser.error(f'--outscale must be positive, got {args.outscale}.')
  if (args.denoise_strength is None) != (args.wdn_model is None):
    parser.error('--denoise-strength and --wdn-model go together (realesr-general-x4v3 in --model).')
  if args.tile_pad < 0 or (args.batch_tiles is not None and args.batch_tiles < 1):
    parser.error('--tile-pad must be >= 0 and --batch-tiles >= 1.')
  if (args.batch_frames is not None and args.batch_frames < 1) or args.segment_frames < 1:
    parser.error('--batch-frames and --segment-frames must be >= 1.')
  if args.max_memory is not None and args.max_memory <= 0:
    parser.error(f'--max-memory must be positive (GiB), got {args.max_memory}.')
  return args


def _load_model(args: argparse.Namespace) -> tuple[Any, Any]:
  """(module, params) of --model, printing what was loaded. Raises ValueError for an unusable model."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from esrgan_jax.inference.interpolation import load_denoise_blend  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights import generator_files  # pylint: disable=g-import-not-at-top

  dtype = jnp.bfloat16 if args.bf16 else None
  if args.wdn_model is not None:
    module, params = load_denoise_blend(args.model, args.wdn_model, args.denoise_strength, dtype)
  else:
    module, params = generator_files.load_generator_file(args.model, dtype=dtype)
  if module.num_in_ch != 3 or module.num_out_ch != 3:
    raise ValueError(f'--model must map RGB to RGB, got {module.num_in_ch} -> {module.num_out_ch} channels.')
  print(f'Loaded {generator_files.describe_file(args.model, module)}', flush=True)
  return runtime.for_platform(module), params


def _tiling(args: argparse.Namespace, module: Any, batch_tiles: int, height: int, width: int) -> dict[str, Any]:
  """upscale_array's tiling arguments for one image: --tile, or for auto the choice of inference.memory."""
  from esrgan_jax.inference import memory  # pylint: disable=g-import-not-at-top

  tile = args.tile
  if tile is None:
    budget = memory.default_budget() if args.max_memory is None else int(args.max_memory * memory.GIB)
    tile = memory.tile_for_budget(module, height, width, budget, args.tile_pad, batch_tiles)
  return dict(tile=tile, tile_pad=args.tile_pad, batch_tiles=batch_tiles, progress=tile > 0)


def _upscale_file(
  in_path: Path, args: argparse.Namespace, inputs: set[Path], upscale: Callable[..., Any]
) -> tuple[Path, int]:
  """Reads, upscales and writes one file; returns the output path and the input pixel count. Raises on unreadable
  or protected files."""
  from esrgan_jax.data.image_io import read_image_raw, write_image  # pylint: disable=g-import-not-at-top
  from esrgan_jax.data.quantize import levels_to_unit  # pylint: disable=g-import-not-at-top

  pixels, bits = read_image_raw(in_path)
  has_alpha = pixels.ndim == 3 and pixels.shape[-1] in (2, 4)
  ext = 'auto' if args.ext in VIDEO_EXTENSIONS else args.ext  # a video container leaves images alone
  out_path = output_path(in_path, args.input, args.output, args.suffix, ext, has_alpha)
  if out_path.resolve() in inputs and not args.overwrite:
    raise FileExistsError(f'the output {out_path} is an input file; pass --overwrite, or pick another -o/--suffix.')
  out = upscale(levels_to_unit(pixels))
  out_path.parent.mkdir(parents=True, exist_ok=True)
  write_image(out_path, out, bit_depth=bits if out_path.suffix.lower() in DEEP_FORMATS else 8)
  return out_path, pixels.shape[0] * pixels.shape[1]


def _upscale_video(
  in_path: Path, args: argparse.Namespace, inputs: set[Path], module: Any, apply_levels: Callable[..., Any], upscale
) -> tuple[Path, int]:
  """Upscales one video (`esrgan_jax.video`); returns the output path and the input pixel count (all frames)."""
  from esrgan_jax.inference.apply import tiles_per_call  # pylint: disable=g-import-not-at-top
  from esrgan_jax.video import frames, transcode  # pylint: disable=g-import-not-at-top

  out_path = output_path(in_path, args.input, args.output, args.suffix, args.ext, False)
  if args.ext not in VIDEO_EXTENSIONS:
    out_path = out_path.with_suffix(in_path.suffix)
  if out_path.resolve() in inputs and not args.overwrite:
    raise FileExistsError(f'the output {out_path} is an input file; pass --overwrite, or pick another -o/--suffix.')
  out_path.parent.mkdir(parents=True, exist_ok=True)
  budget = None if args.max_memory is None else int(args.max_memory * 2**30)
  plan = lambda height, width: frames.plan_frames(
    module, apply_levels, upscale, height, width, tile=args.tile, tile_pad=args.tile_pad, outscale=args.outscale,
    budget=budget, batch_frames=args.batch_frames, unit=tiles_per_call(module),
  )  # fmt: skip
  codec = args.codec or ('libvpx-vp9' if out_path.suffix.lower() == '.webm' else 'libx264')
  options = transcode.EncodeOptions(codec, args.crf, args.preset, args.segment_frames)
  unused = ('input', 'output', 'overwrite', 'batch_frames', 'compile_cache')  # no effect on the frames' values
  settings = {k: str(v) for k, v in vars(args).items() if k not in unused}
  settings['model_file'] = [str(args.model.resolve()), args.model.stat().st_size, args.model.stat().st_mtime_ns]
  result = transcode.upscale_video(in_path, out_path, plan, options, settings)
  if result.computed < result.frames:
    print(f'{in_path}: resumed {result.frames - result.computed} of {result.frames} frames from finished segments.')
  return out_path, result.frames * result.height * result.width


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the CLI; returns the exit code (0 all written, 1 some files failed, 2 unusable model, 130 Ctrl-C)."""
  args = _parse_args(argv)
  if args.compile_cache:
    runtime.use_compile_cache()
  import tqdm  # pylint: disable=g-import-not-at-top

  from esrgan_jax.data.image_io import IMAGE_EXTENSIONS, ImageReadError, list_images  # pylint: disable=g-import-not-at-top
  from esrgan_jax.inference.apply import make_apply_fn, tiles_per_call, upscale_array  # pylint: disable=g-import-not-at-top
  from esrgan_jax.video.files import VIDEO_EXTENSIONS as VIDEO_FILES  # pylint: disable=g-import-not-at-top
  from esrgan_jax.video.files import is_video, list_videos  # pylint: disable=g-import-not-at-top

  files = sorted(set(list_images(args.input)) | set(list_videos(args.input)))
  if not files:
    print(f'No images ({", ".join(IMAGE_EXTENSIONS + VIDEO_FILES)}) found in {args.input}.', file=sys.stderr)
    return 1
  try:
    module, params = _load_model(args)
  except (FileNotFoundError, ValueError) as e:
    print(f'Cannot load --model: {e}', file=sys.stderr)
    return 2
  apply_fn = make_apply_fn(module, params)
  # Videos take the network's levels in and out (on a copy of the params of their own); then the params are held
  # only by the apply functions (one copy each).
  apply_levels = make_apply_fn(module, params, quantized=True) if any(map(is_video, files)) else None
  del params
  runtime.release_free_memory()  # the load's temporaries
  # --tile auto: one window per call, the largest the budget holds (on CPU the faster one-device program; windows
  # split over devices would each get a share of the budget). --tile N: the fastest for the platform.
  batch_tiles = args.batch_tiles or (1 if args.tile is None else tiles_per_call(module))

  def upscale(image):
    tiling = _tiling(args, module, batch_tiles, *image.shape[:2])
    return upscale_array(
      apply_fn, image, scale=module.scale, outscale=args.outscale, alpha_upsampler=args.alpha_upsampler, **tiling
    )

  inputs = {p.resolve() for p in files}
  done, failed, megapixels, start = 0, [], 0.0, time.perf_counter()
  try:
    for in_path in tqdm.tqdm(files, desc='images', unit='img', disable=len(files) == 1):
      try:
        if is_video(in_path):
          out_path, pixel_count = _upscale_video(in_path, args, inputs, module, apply_levels, upscale)
        else:
          out_path, pixel_count = _upscale_file(in_path, args, inputs, upscale)
        done, megapixels = done + 1, megapixels + pixel_count / 1e6
        tqdm.tqdm.write(f'{in_path} -> {out_path}')
      except (ImageReadError, OSError, ValueError, ImportError) as e:
        failed.append(in_path)
        tqdm.tqdm.write(f'skipped {in_path}: {e}', file=sys.stderr)
  except KeyboardInterrupt:
    print('interrupted', file=sys.stderr)
  seconds = time.perf_counter() - start
  rate = f', {seconds / megapixels:.1f} s per input megapixel' if megapixels else ''
  print(f'{done} of {len(files)} images done, {len(failed)} failed, {seconds:.1f} s{rate}.')
  if failed:
    print(f'{len(failed)} of {len(files)} images failed: {", ".join(map(str, failed))}', file=sys.stderr)
  if done + len(failed) < len(files):
    return 130  # interrupted: the shell's code for SIGINT
  return 1 if failed else 0


if __name__ == '__main__':
  runtime.use_fast_cpu_flags()
  runtime.use_cpu_device_per_core()
  sys.exit(main())
