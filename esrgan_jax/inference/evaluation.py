"""Super-resolution quality by the paper's conventions (numpy, float64), for `evaluate`, training validation and
the ablation.

Per HR image (uint8; gray counts as RGB with equal channels, alpha is dropped): modcrop to `modcrop_to` (default the
scale), MATLAB bicubic downscale by 1/scale rounded to uint8 (the LR input), super-resolve, round the output to uint8
(`esrgan_jax.data.quantize`), then PSNR/SSIM (`esrgan_jax.inference.metrics`) on the BT.601 Y channel (or RGB) with
`scale` border pixels cropped; NIQE and other metrics of `esrgan_jax.inference.quality` on request. A folder
holding images is one set (Set5/Set14/BSD100/Urban100 layout). Without HR images (`reference=False`) each image is an
input (real-world LR, or an image to score as it is) and only the no-reference metrics (NIQE) are computed.
"""

import csv
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import flax.linen as nn
import numpy as np
import tqdm

from esrgan_jax.data.image_io import IMAGE_EXTENSIONS, ImageReadError, list_images, read_image_raw, to_rgb
from esrgan_jax.data.imresize import imresize, modcrop
from esrgan_jax.data.quantize import levels_to_unit, quantize, to_uint8
from esrgan_jax.inference import quality
from esrgan_jax.inference.apply import make_apply_fn
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


def _selected(metrics: Sequence[quality.Metric] | None) -> tuple[quality.Metric, ...]:
  return quality.select(quality.DISTORTION) if metrics is None else tuple(metrics)


def score(
  sr: np.ndarray,
  hr: np.ndarray | None,
  scale: int,
  *,
  test_y_channel: bool = True,
  crop_border: int | None = None,
  metrics: Sequence[quality.Metric] | None = None,
) -> dict[str, float]:
  """{name: score} of an SR image (float, clipped to [0, 1] and rounded to uint8 here; or uint8) against HR
  (uint8, or float in [0, 1]; None for no-reference metrics only) with `crop_border` (default `scale`) border pixels
  ignored. `metrics` defaults to PSNR and SSIM."""
  sr = sr if sr.dtype == np.uint8 else to_uint8(sr)
  border = scale if crop_border is None else crop_border
  return quality.compute_all(_selected(metrics), sr, hr, border, test_y_channel)


def mean_scores(rows: Sequence[dict[str, Any]], metrics: Sequence[quality.Metric] | None = None) -> dict[str, float]:
  """{name: mean over rows} of each metric."""
  return {m.name: float(np.mean([r[m.name] for r in rows])) for m in _selected(metrics)}


def score_pairs(
  sr_fn: SrFn, pairs: Sequence[dict], scale: int, **scoring: Any
) -> tuple[list[dict[str, float]], list[np.ndarray]]:
  """Per-image scores of `sr_fn` on [{'lr': HW3 float in [0, 1], 'hr': HW3 (scale times larger)}, ...] and the
  uint8 SR images. `scoring` goes to `score`."""
  rows, outputs = [], []
  for pair in pairs:
    sr = to_uint8(np.asarray(sr_fn(pair['lr'])))
    rows.append(score(sr, pair['hr'], scale, **scoring))
    outputs.append(sr)
  return rows, outputs


def evaluate_pairs(
  sr_fn: SrFn, pairs: Sequence[dict], scale: int, **scoring: Any
) -> tuple[dict[str, float], list[np.ndarray]]:
  """Like `score_pairs`, but returns ({name: mean}, the uint8 SR images); PSNR and SSIM unless `metrics` is given."""
  rows, outputs = score_pairs(sr_fn, pairs, scale, **scoring)
  return mean_scores(rows, scoring.get('metrics')), outputs


def read_hr(path: Path) -> np.ndarray:
  """An HR image as uint8 HW3 (gray repeated to RGB, alpha dropped). The paper's metrics are defined on 8-bit
  images, so a 16-bit one is rounded to 8 bits (level * 255 / 65535, half up) first, with a note on stderr."""
  pixels, bits = read_image_raw(path)
  if bits != 8:
    print(f'note: {path} is {bits}-bit; evaluated rounded to 8 bits, as the paper metrics are defined', file=sys.stderr)
    pixels = to_uint8(levels_to_unit(pixels))
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
  metrics: Sequence[quality.Metric] | None = None,
) -> dict[str, float]:
  """{name: score} (default PSNR, SSIM) of one uint8 HW3 HR image under the paper protocol (module docstring)."""
  hr = modcrop(hr, modcrop_to or scale)
  lr = quantize(imresize(hr, 1 / scale))
  sr = np.asarray(sr_fn(lr.astype(np.float32) / 255.0))
  if sr.shape != hr.shape:
    raise ValueError(
      f'SR output has shape {sr.shape}, expected {hr.shape} (LR {lr.shape} x {scale}); is the scale right?'
    )
  return score(sr, hr, scale, test_y_channel=test_y_channel, crop_border=crop_border, metrics=metrics)


def score_image(
  image: np.ndarray, sr_fn: SrFn | None, metrics: Sequence[quality.Metric], crop_border: int
) -> dict[str, float]:
  """No-reference scores of `sr_fn`'s output for one uint8 HW3 input (or of the image itself if `sr_fn` is None)."""
  sr = image if sr_fn is None else to_uint8(np.asarray(sr_fn(image.astype(np.float32) / 255.0)))
  return quality.compute_all(metrics, sr, None, crop_border)


def evaluate_folder(
  hr_dir: str | Path,
  sr_fn: SrFn,
  scale: int,
  *,
  modcrop_to: int | None = None,
  test_y_channel: bool = True,
  crop_border: int | None = None,
  progress: bool = False,
  metrics: Sequence[quality.Metric] | None = None,
  reference: bool = True,
) -> dict[str, Any]:
  """Evaluates every image directly in `hr_dir` (sorted by name) with `metrics` (default PSNR, SSIM).

  With `reference=False` the images are inputs of `sr_fn` (None: scored as they are), `metrics` must need no HR
  image, and `crop_border` defaults to 0 without `sr_fn`, else to `scale`.

  An unreadable image (ImageReadError) is reported on stderr and skipped; FileNotFoundError if none is readable.

  Returns:
    {'set': folder name, 'images': [{'image', name: score, ...}, ...], name: mean, ..., 'skipped': [paths]}.
  """
  hr_dir = Path(hr_dir)
  files = list_images(hr_dir, recursive=False) if hr_dir.is_dir() else []
  if not files:
    raise FileNotFoundError(f'No images ({", ".join(IMAGE_EXTENSIONS)}) directly in {hr_dir}.')
  selected = _selected(metrics)
  if crop_border is None and not reference:
    crop_border = 0 if sr_fn is None else scale
  rows, skipped = [], []
  for path in tqdm.tqdm(files, desc=hr_dir.name, unit='img', leave=False, disable=not progress):
    try:
      image = read_hr(path)
    except ImageReadError as e:
      skipped.append(str(path))
      tqdm.tqdm.write(f'skipped {e}', file=sys.stderr)
      continue
    try:
      if reference:
        scores = evaluate_image(
          image,
          sr_fn,
          scale,
          modcrop_to=modcrop_to,
          test_y_channel=test_y_channel,
          crop_border=crop_border,
          metrics=selected,
        )
      else:
        scores = score_image(image, sr_fn, selected, crop_border)
    except ValueError as e:
      raise ValueError(f'{path}: {e}') from e
    rows.append({'image': path.stem, **scores})
  if not rows:
    raise FileNotFoundError(f'No readable images in {hr_dir} ({len(skipped)} unreadable, listed above).')
  return {'set': hr_dir.name, 'images': rows, **mean_scores(rows, selected), 'skipped': skipped}


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


def _columns(result: dict[str, Any], metrics: Sequence[quality.Metric] | None) -> list[quality.Metric]:
  """`metrics`, or the metrics of `quality.METRICS` that `result` holds."""
  return list(metrics) if metrics is not None else [m for m in quality.METRICS.values() if m.name in result]


def format_table(result: dict[str, Any], metrics: Sequence[quality.Metric] | None = None) -> str:
  """A per-image and mean table of one `evaluate_folder` result (columns: `metrics`, default those it holds)."""
  columns = _columns(result, metrics)
  width = max(len(r['image']) for r in result['images'] + [{'image': 'mean'}])
  widths = [max(len(m.label), m.decimals + 5) for m in columns]

  def line(name: str, scores: dict[str, Any]) -> str:
    cells = (f'{scores[m.name]:{w}.{m.decimals}f}' for m, w in zip(columns, widths))
    return '  '.join([f'{name:<{width}}', *cells])

  lines = ['  '.join([f'{"image":<{width}}', *(f'{m.label:>{w}}' for m, w in zip(columns, widths))])]
  lines += [line(r['image'], r) for r in result['images']]
  lines.append(line('mean', result))
  return '\n'.join(lines)


def write_results(
  out_dir: Path,
  settings: dict[str, Any],
  results: list[dict[str, Any]],
  metrics: Sequence[quality.Metric] | None = None,
) -> None:
  """Writes metrics.json (settings and all results) and metrics.csv (set, image, one column per metric; 'mean'
  rows); columns: `metrics`, default those the first result holds."""
  out_dir.mkdir(parents=True, exist_ok=True)
  (out_dir / 'metrics.json').write_text(json.dumps({**settings, 'sets': results}, indent=2) + '\n')
  columns = _columns(results[0], metrics) if results else []
  with open(out_dir / 'metrics.csv', 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['set', 'image', *(m.name for m in columns)])
    for result in results:
      for r in result['images'] + [{'image': 'mean', **result}]:
        writer.writerow([result['set'], r['image'], *(f'{r[m.name]:.{m.decimals + 2}f}' for m in columns)])
