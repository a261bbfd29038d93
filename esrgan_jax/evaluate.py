"""Paper-convention PSNR/SSIM on HR test sets: `python -m esrgan_jax.evaluate DIR... (--model PATH | --bicubic)`.

Per HR image (uint8; gray counts as RGB with equal channels, alpha is dropped): modcrop to `modcrop` (default the
scale), MATLAB bicubic downscale by 1/scale rounded to uint8 (the LR input), super-resolve, round the output to uint8,
then PSNR/SSIM (`esrgan_jax.metrics`) on the BT.601 Y channel (RGB with `--rgb`) with `scale` border pixels cropped.
A DIR holding images is one set (Set5/Set14/BSD100/Urban100 layout); a DIR of such folders gives one set per folder.
"""
import argparse
import csv
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import tqdm

from esrgan_jax import metrics, xla_flags
from esrgan_jax.image_io import IMAGE_EXTENSIONS, read_image_raw, to_rgb
from esrgan_jax.imresize import imresize, modcrop
from esrgan_jax.model_io import load_generator
from esrgan_jax.tiling import upscale_image
from esrgan_jax.upscale import make_apply_fn

SrFn = Callable[[np.ndarray], np.ndarray]  # LR HWC float32 in [0, 1] -> SR HWC float (x scale)


def quantize(image_255: np.ndarray) -> np.ndarray:
  """Float on the 0-255 scale -> uint8, rounding half away from zero and saturating as MATLAB's uint8()."""
  return np.clip(np.floor(np.asarray(image_255, np.float64) + 0.5), 0, 255).astype(np.uint8)


def bicubic_sr_fn(scale: int) -> SrFn:
  """The bicubic baseline: MATLAB imresize by `scale`."""
  return lambda lr: imresize(lr, scale)


def model_sr_fn(model_path: str | Path, *, bf16: bool = False, **tiling: Any) -> tuple[SrFn, int]:
  """(SR function of a generator file, its scale); `tiling` goes to `esrgan_jax.tiling.upscale_image`."""
  module, params = load_generator(model_path, dtype=jnp.bfloat16 if bf16 else None)
  apply_fn = make_apply_fn(module, params)
  return lambda lr: upscale_image(apply_fn, lr, scale=module.scale, **tiling), module.scale


def read_hr(path: Path) -> np.ndarray:
  """An 8-bit HR image as uint8 HW3 (gray repeated to RGB, alpha dropped)."""
  pixels, bits = read_image_raw(path)
  if bits != 8:
    raise ValueError(f'{path} is {bits}-bit; the paper metrics are defined on 8-bit images.')
  return to_rgb(pixels, str(path))


def _images_in(folder: Path) -> list[Path]:
  """The image files directly in `folder`, sorted by name."""
  return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def evaluate_image(hr: np.ndarray, sr_fn: SrFn, scale: int, *, modcrop_to: int | None = None,
                   test_y_channel: bool = True, crop_border: int | None = None) -> dict[str, float]:
  """{'psnr', 'ssim'} of one uint8 HW3 HR image under the paper protocol (see the module docstring)."""
  hr = modcrop(hr, modcrop_to or scale)
  lr = quantize(imresize(hr, 1 / scale))
  sr = np.asarray(sr_fn(lr.astype(np.float32) / 255.0))
  if sr.shape != hr.shape:
    raise ValueError(f'SR output has shape {sr.shape}, expected {hr.shape} (LR {lr.shape} x {scale}); '
                     'is the scale right?')
  sr = quantize(np.clip(sr, 0.0, 1.0) * 255.0)
  border = scale if crop_border is None else crop_border
  return {'psnr': metrics.psnr(sr, hr, border, test_y_channel), 'ssim': metrics.ssim(sr, hr, border, test_y_channel)}


def evaluate_folder(hr_dir: str | Path, sr_fn: SrFn, scale: int, *, modcrop_to: int | None = None,
                    test_y_channel: bool = True, crop_border: int | None = None,
                    progress: bool = False) -> dict[str, Any]:
  """Evaluates every image directly in `hr_dir` (sorted by name).

  Returns:
    {'set': folder name, 'images': [{'image', 'psnr', 'ssim'}, ...], 'psnr': mean, 'ssim': mean}.
  """
  hr_dir = Path(hr_dir)
  files = _images_in(hr_dir)
  if not files:
    raise FileNotFoundError(f'No images ({", ".join(IMAGE_EXTENSIONS)}) directly in {hr_dir}.')
  rows = []
  for path in tqdm.tqdm(files, desc=hr_dir.name, unit='img', leave=False, disable=not progress):
    scores = evaluate_image(read_hr(path), sr_fn, scale, modcrop_to=modcrop_to, test_y_channel=test_y_channel,
                            crop_border=crop_border)
    rows.append({'image': path.stem, **scores})
  return {'set': hr_dir.name, 'images': rows, 'psnr': float(np.mean([r['psnr'] for r in rows])),
          'ssim': float(np.mean([r['ssim'] for r in rows]))}


def find_sets(paths: Sequence[str | Path]) -> list[Path]:
  """Each path holding images is a set; otherwise its subfolders holding images are (sorted)."""
  sets = []
  for path in map(Path, paths):
    if not path.is_dir():
      raise FileNotFoundError(f'{path} is not a folder of HR images.')
    found = [path] if _images_in(path) else sorted(d for d in path.iterdir() if d.is_dir() and _images_in(d))
    if not found:
      raise FileNotFoundError(f'No images in {path} or its subfolders.')
    sets.extend(found)
  return sets


def format_table(result: dict[str, Any]) -> str:
  """A per-image and mean PSNR/SSIM table of one `evaluate_folder` result."""
  width = max(len(r['image']) for r in result['images'] + [{'image': 'mean'}])
  lines = [f'{"image":<{width}}  {"PSNR":>7}  {"SSIM":>6}']
  lines += [f'{r["image"]:<{width}}  {r["psnr"]:7.2f}  {r["ssim"]:6.4f}' for r in result['images']]
  lines.append(f'{"mean":<{width}}  {result["psnr"]:7.2f}  {result["ssim"]:6.4f}')
  return '\n'.join(lines)


def write_results(out_dir: Path, settings: dict[str, Any], results: list[dict[str, Any]]) -> None:
  """Writes metrics.json (settings and all results) and metrics.csv (set, image, psnr, ssim; 'mean' rows)."""
  out_dir.mkdir(parents=True, exist_ok=True)
  (out_dir / 'metrics.json').write_text(json.dumps({**settings, 'sets': results}, indent=2) + '\n')
  with open(out_dir / 'metrics.csv', 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['set', 'image', 'psnr', 'ssim'])
    for result in results:
      for r in result['images'] + [{'image': 'mean', 'psnr': result['psnr'], 'ssim': result['ssim']}]:
        writer.writerow([result['set'], r['image'], f'{r["psnr"]:.4f}', f'{r["ssim"]:.6f}'])


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(prog='python -m esrgan_jax.evaluate', description=__doc__.split('\n')[0])
  parser.add_argument('hr_dirs', nargs='+', type=Path, help='HR set folders, or folders of set folders')
  method = parser.add_mutually_exclusive_group(required=True)
  method.add_argument('--model', type=Path, help='generator file (esrgan_jax.model_io format)')
  method.add_argument('--bicubic', action='store_true', help='evaluate MATLAB bicubic upscaling')
  parser.add_argument('--scale', type=int, default=None, help='bicubic scale (default 4); a model has its own')
  parser.add_argument('--modcrop', type=int, default=None, help='crop HR to a multiple of this (default: scale)')
  parser.add_argument('--crop-border', type=int, default=None, help='border pixels ignored (default: scale)')
  parser.add_argument('--rgb', action='store_true', help='RGB metrics instead of the Y channel')
  parser.add_argument('--out', type=Path, default=None, help='folder for metrics.csv and metrics.json')
  parser.add_argument('--tile', type=int, default=0, help='tiled inference (see upscale); 0 = whole image')
  parser.add_argument('--tile-pad', type=int, default=16)
  parser.add_argument('--bf16', action='store_true', help='bfloat16 compute for the model')
  args = parser.parse_args(argv)
  if args.modcrop is not None and args.modcrop < 1:
    parser.error(f'--modcrop must be >= 1, got {args.modcrop}.')
  return args


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the CLI: a table per set on stdout, files in --out; returns the exit code."""
  args = _parse_args(argv)
  if args.bicubic:
    scale = args.scale or 4
    sr_fn, method = bicubic_sr_fn(scale), 'bicubic'
  else:
    sr_fn, scale = model_sr_fn(args.model, bf16=args.bf16, tile=args.tile, tile_pad=args.tile_pad)
    method = str(args.model)
    if args.scale not in (None, scale):
      print(f'--scale {args.scale} contradicts the model, which upscales x{scale}.', file=sys.stderr)
      return 2
  modcrop_to = args.modcrop or scale
  if modcrop_to % scale:
    print(f'--modcrop {modcrop_to} must be a multiple of the scale {scale}.', file=sys.stderr)
    return 2
  settings = {'method': method, 'scale': scale, 'channel': 'RGB' if args.rgb else 'Y', 'modcrop': modcrop_to,
              'crop_border': scale if args.crop_border is None else args.crop_border}
  results = []
  for hr_dir in find_sets(args.hr_dirs):
    result = evaluate_folder(hr_dir, sr_fn, scale, modcrop_to=modcrop_to, test_y_channel=not args.rgb,
                             crop_border=args.crop_border, progress=True)
    results.append(result)
    print(f'\n{result["set"]}  ({", ".join(f"{k} {v}" for k, v in settings.items())})\n{format_table(result)}')
  if args.out is not None:
    write_results(args.out, settings, results)
    print(f'\nwrote {args.out / "metrics.csv"} and {args.out / "metrics.json"}')
  return 0


if __name__ == '__main__':
  xla_flags.use_fast_cpu_flags()
  sys.exit(main())
