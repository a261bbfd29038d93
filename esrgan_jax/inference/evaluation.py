"""Super-resolution quality by the paper's conventions (numpy, float64), for `evaluate`, training validation and
the ablation.

Per HR image (uint8; gray counts as RGB with equal channels, alpha is dropped): modcrop to `modcrop_to` (default the
scale), MATLAB bicubic downscale by 1/scale rounded to uint8 (the LR input), super-resolve, round the output to uint8
(`esrgan_jax.data.quantize`), then PSNR/SSIM (`esrgan_jax.inference.metrics`) on the BT.601 Y channel (or RGB) with
`scale` border pixels cropped. A folder holding images is one set (Set5/Set14/BSD100/Urban100 layout).
"""

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import flax.linen as nn
import numpy as np
import tqdm

from esrgan_jax.data.image_io import IMAGE_EXTENSIONS, list_images, read_image_raw, to_rgb
from esrgan_jax.data.imresize import imresize, modcrop
from esrgan_jax.data.quantize import quantize, to_uint8
from esrgan_jax.inference import metrics
from esrgan_jax.inference.apply import make_apply_fn
from esrgan_jax.inference.lpips_metric import LpipsFn, score_lpips
from esrgan_jax.inference.tiling import upscale_image

SrFn = Callable[[np.ndarray], np.ndarray]  # LR HWC float32 in [0, 1] -> SR HWC float (x scale), not clipped


def bicubic_sr_fn(scale: int) -> SrFn:
  """The bicubic baseline: MATLAB imresize by `scale`."""
  return lambda lr: imresize(lr, scale)


def generator_sr_fn(module: nn.Module, params: Any, **tiling: Any) -> SrFn:
  """The SR function of a generator; `tiling` goes to `esrgan_jax.inference.tiling.upscale_image`."""
  apply_fn = make_apply_fn(module, params)
  return lambda lr: upscale_image(apply_fn, lr, scale=module.scale, **tiling)


def bicubic_upscale(lr: np.ndarray, scale: int) -> np.ndarray:
  """MATLAB bicubic upscaling of an LR image (HW3 float in [0, 1]) as uint8 HW3: the baseline every table shows."""
  return to_uint8(imresize(lr, scale))


def score(
  sr: np.ndarray, hr: np.ndarray, scale: int, *, test_y_channel: bool = True, crop_border: int | None = None
) -> dict[str, float]:
  """{'psnr', 'ssim'} of an SR image (float, clipped to [0, 1] and rounded to uint8 here; or uint8) against HR
  (uint8, or float in [0, 1]) with `crop_border` (default `scale`) border pixels ignored."""
  sr = sr if sr.dtype == np.uint8 else to_uint8(sr)
  border = scale if crop_border is None else crop_border
  return {'psnr': metrics.psnr(sr, hr, border, test_y_channel), 'ssim': metrics.ssim(sr, hr, border, test_y_channel)}


def evaluate_pairs(
  sr_fn: SrFn, pairs: Sequence[dict], scale: int, **scoring: Any
) -> tuple[dict[str, float], list[np.ndarray]]:
  """Scores `sr_fn` on [{'lr': HW3 float in [0, 1], 'hr': HW3 (scale times larger)}, ...].

  Returns ({'psnr': mean, 'ssim': mean}, the uint8 SR images). `scoring` goes to `score`.
  """
  rows, outputs = [], []
  for pair in pairs:
    sr = to_uint8(np.asarray(sr_fn(pair['lr'])))
    rows.append(score(sr, pair['hr'], scale, **scoring))
    outputs.append(sr)
  return {k: float(np.mean([r[k] for r in rows])) for k in ('psnr', 'ssim')}, outputs


def read_hr(path: Path) -> np.ndarray:
  """An 8-bit HR image as uint8 HW3 (gray repeated to RGB, alpha dropped)."""
  pixels, bits = read_image_raw(path)
  if bits != 8:
    raise ValueError(f'{path} is {bits}-bit; the paper metrics are defined on 8-bit images.')
  return to_rgb(pixels, str(path))


def _has_images(folder: Path) -> bool:
  return bool(list_images(folder, recursive=False))


def evaluate_image(
  hr: np.ndarray,
  sr_fn: SrFn,
  scale: int,
  *,
  modcrop_to: int | None = None,
  test_y_channel: bool = True,
  crop_border: int | None = None,
  lpips: LpipsFn | None = None,
) -> dict[str, float]:
  """{'psnr', 'ssim'} of one uint8 HW3 HR image under the paper protocol (see the module docstring), and 'lpips'
  (RGB, same border crop) when an `esrgan_jax.inference.lpips_metric` function is given."""
  hr = modcrop(hr, modcrop_to or scale)
  lr = quantize(imresize(hr, 1 / scale))
  sr = np.asarray(sr_fn(lr.astype(np.float32) / 255.0))
  if sr.shape != hr.shape:
    raise ValueError(
      f'SR output has shape {sr.shape}, expected {hr.shape} (LR {lr.shape} x {scale}); is the scale right?'
    )
  scores = score(sr, hr, scale, test_y_channel=test_y_channel, crop_border=crop_border)
  if lpips is not None:
    scores['lpips'] = score_lpips(lpips, to_uint8(sr), hr, scale if crop_border is None else crop_border)
  return scores


def evaluate_folder(
  hr_dir: str | Path,
  sr_fn: SrFn,
  scale: int,
  *,
  modcrop_to: int | None = None,
  test_y_channel: bool = True,
  crop_border: int | None = None,
  lpips: LpipsFn | None = None,
  progress: bool = False,
) -> dict[str, Any]:
  """Evaluates every image directly in `hr_dir` (sorted by name).

  Returns:
    {'set': folder name, 'images': [{'image', 'psnr', 'ssim'}, ...], 'psnr': mean, 'ssim': mean}, and 'lpips' per
    image and mean when `lpips` is given.
  """
  hr_dir = Path(hr_dir)
  files = list_images(hr_dir, recursive=False) if hr_dir.is_dir() else []
  if not files:
    raise FileNotFoundError(f'No images ({", ".join(IMAGE_EXTENSIONS)}) directly in {hr_dir}.')
  rows = []
  for path in tqdm.tqdm(files, desc=hr_dir.name, unit='img', leave=False, disable=not progress):
    scores = evaluate_image(
      read_hr(path),
      sr_fn,
      scale,
      modcrop_to=modcrop_to,
      test_y_channel=test_y_channel,
      crop_border=crop_border,
      lpips=lpips,
    )
    rows.append({'image': path.stem, **scores})
  means = {metric: float(np.mean([r[metric] for r in rows])) for metric in rows[0] if metric != 'image'}
  return {'set': hr_dir.name, 'images': rows, **means}


def find_sets(paths: Sequence[str | Path]) -> list[Path]:
  """Each path holding images is a set; otherwise its subfolders holding images are (sorted)."""
  sets = []
  for path in map(Path, paths):
    if not path.is_dir():
      raise FileNotFoundError(f'{path} is not a folder of HR images.')
    found = [path] if _has_images(path) else sorted(d for d in path.iterdir() if d.is_dir() and _has_images(d))
    if not found:
      raise FileNotFoundError(f'No images in {path} or its subfolders.')
    sets.extend(found)
  return sets


def format_table(result: dict[str, Any]) -> str:
  """A per-image and mean PSNR/SSIM (and LPIPS) table of one `evaluate_folder` result."""
  width = max(len(r['image']) for r in result['images'] + [{'image': 'mean'}])
  lpips = 'lpips' in result
  row = lambda name, r: (
    f'{name:<{width}}  {r["psnr"]:7.2f}  {r["ssim"]:6.4f}' + (f'  {r["lpips"]:6.4f}' if lpips else '')
  )
  lines = [f'{"image":<{width}}  {"PSNR":>7}  {"SSIM":>6}' + (f'  {"LPIPS":>6}' if lpips else '')]
  lines += [row(r['image'], r) for r in result['images']]
  lines.append(row('mean', result))
  return '\n'.join(lines)


def write_results(out_dir: Path, settings: dict[str, Any], results: list[dict[str, Any]]) -> None:
  """Writes metrics.json (settings and all results) and metrics.csv (set, image, psnr, ssim[, lpips]; 'mean' rows)."""
  out_dir.mkdir(parents=True, exist_ok=True)
  (out_dir / 'metrics.json').write_text(json.dumps({**settings, 'sets': results}, indent=2) + '\n')
  with open(out_dir / 'metrics.csv', 'w', newline='') as f:
    writer = csv.writer(f)
    lpips = any('lpips' in result for result in results)
    writer.writerow(['set', 'image', 'psnr', 'ssim'] + ['lpips'] * lpips)
    for result in results:
      for r in result['images'] + [{**result, 'image': 'mean'}]:
        lpips_cell = [f'{r["lpips"]:.6f}'] if lpips else []
        writer.writerow([result['set'], r['image'], f'{r["psnr"]:.4f}', f'{r["ssim"]:.6f}', *lpips_cell])
