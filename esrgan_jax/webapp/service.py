"""What the app does, without the page: read an upload within the limits, render it with a model or a blend of
two at α, compare it with bicubic or α = 0, score both sides, write the full-resolution PNG, sweep NIQE over α.

Inputs are paths of uploaded files (the web framework's own cache) and model *names* from `ModelDir`; nothing here
takes a path to a model. Results are cached (the last few uploads, generators and renders), so moving the zoom or
switching the comparison re-renders nothing. Errors a user can fix raise ValueError (ImageReadError for bad
images) with a message for the page.
"""

import dataclasses
import functools
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from esrgan_jax.data.image_io import read_image, read_image_raw, read_image_size, write_image
from esrgan_jax.data.quantize import levels_to_unit
from esrgan_jax.inference import memory, metrics
from esrgan_jax.inference.lpips_metric import LpipsFn, load_lpips
from esrgan_jax.webapp import views
from esrgan_jax.webapp.blend import BlendedGenerator
from esrgan_jax.webapp.compilations import CompileCounter
from esrgan_jax.webapp.model_dir import ModelDir
from esrgan_jax.weights.generator_state_dicts import describe_generator

COMPARE_BICUBIC = 'bicubic'
COMPARE_ALPHA0 = 'α = 0'


@dataclasses.dataclass(frozen=True)
class Limits:
  """max_megapixels: largest input (megapixels); max_memory: bytes of network activations per call (None: half
  the available memory, at most 4 GiB, as `upscale --tile auto`); tile_pad: context pixels per tile side."""

  max_megapixels: float = 4.0
  max_memory: int | None = None
  tile_pad: int = 16


@dataclasses.dataclass(frozen=True)
class Upload:
  image: np.ndarray  # HW or HWC (C = 1-4) float32 in [0, 1]
  bits: int  # 8 or 16: the depth of the file, kept in the download
  name: str  # the file's stem


@dataclasses.dataclass(frozen=True)
class Render:
  """One side of a comparison: the full-resolution image, what the page shows of it, and how it was made."""

  image: np.ndarray  # HW or HWC float32 in [0, 1], full resolution
  display: np.ndarray  # uint8 HW3
  niqe: float | str  # NIQE of `display`, or why there is none
  seconds: float  # time to compute it (0 for a cached one)
  compilations: int  # XLA compilations while computing it
  tile: int  # core tile in input pixels, 0 = whole image


@dataclasses.dataclass(frozen=True)
class View:
  """Everything the page shows after an upscale."""

  before: np.ndarray  # uint8 HW3, reduced to views.PREVIEW_MAX pixels per side
  after: np.ndarray
  zoom_before: np.ndarray
  zoom_after: np.ndarray
  report: str  # markdown
  download: Path  # the full-resolution PNG


def _format_score(value: float | str) -> str:
  return f'{value:.3f}' if isinstance(value, float) else f'({value})'


class Upscaler:
  """The app's work on the models of `models`, writing downloads to `out_dir`. `lpips`: 'alex', 'vgg' or a
  converted LPIPS file, for scores against an uploaded reference (None: no LPIPS)."""

  def __init__(
    self,
    models: ModelDir,
    out_dir: str | os.PathLike,
    limits: Limits = Limits(),
    lpips: str | None = None,
    counter: CompileCounter | None = None,
  ):
    self.models = models
    self.out_dir = Path(out_dir)
    self.limits = limits
    self.counter = (counter or CompileCounter()).start()
    self._lpips_source = lpips
    self.read = functools.lru_cache(maxsize=4)(self._read)
    self.generator = functools.lru_cache(maxsize=2)(self._generator)
    self._render = functools.lru_cache(maxsize=6)(self._render_uncached)
    self._bicubic = functools.lru_cache(maxsize=4)(self._bicubic_uncached)

  @property
  def budget(self) -> int:
    return memory.default_budget() if self.limits.max_memory is None else self.limits.max_memory

  def _read(self, path: str) -> Upload:
    if not path:
      raise ValueError('Upload an image first (PNG, JPEG, WebP, TIFF or BMP).')
    height, width = read_image_size(path, Path(path).name)
    megapixels = height * width / 1e6
    if megapixels > self.limits.max_megapixels:
      raise ValueError(
        f'{Path(path).name} is {width}x{height} ({megapixels:.1f} megapixels); this app takes at most '
        f'{self.limits.max_megapixels:g} megapixels. Crop or downscale it, or restart the app with a larger '
        '--max-megapixels.'
      )
    pixels, bits = read_image_raw(path)
    image = levels_to_unit(pixels)
    return Upload(image, bits, Path(path).stem)

  def _generator(self, name_a: str, name_b: str | None) -> BlendedGenerator:
    module, params = self.models.load(name_a)
    if not name_b:
      return BlendedGenerator(module, params)
    module_b, params_b = self.models.load(name_b)
    return BlendedGenerator(module, params, params_b, module_b)

  def _render_uncached(self, path: str, name_a: str, name_b: str | None, alpha: float) -> Render:
    upload, generator = self.read(path), self.generator(name_a, name_b)
    compilations, start = self.counter.count, time.perf_counter()
    image, tile = generator.upscale(upload.image, alpha, budget=self.budget, tile_pad=self.limits.tile_pad)
    seconds, compilations = time.perf_counter() - start, self.counter.count - compilations
    display = views.display(image)
    return Render(image, display, views.niqe_or_reason(display), seconds, compilations, tile)

  def render(self, path: str, name_a: str, name_b: str | None, alpha: float) -> Render:
    """The upscale of the upload at `path` by `name_a`, or by its blend with `name_b` at `alpha` (cached; tiled
    renders show a tqdm bar, which the page turns into a progress bar)."""
    alpha = float(alpha) if name_b else 0.0  # one model: α means nothing, one cache entry
    return self._render(path, name_a, name_b or None, alpha)

  def _bicubic_uncached(self, path: str, scale: int) -> Render:
    start = time.perf_counter()
    image = views.bicubic(self.read(path).image, scale)
    display = views.display(image)
    return Render(image, display, views.niqe_or_reason(display), time.perf_counter() - start, 0, 0)

  def _lpips(self) -> LpipsFn:
    if self._lpips_source is None:
      raise ValueError('LPIPS is off; start the app with --lpips alex (or vgg, or a converted LPIPS file)')
    return _cached_lpips(self._lpips_source)

  def _reference_scores(self, reference: str, before: Render, after: Render, scale: int) -> list[str]:
    """Report lines for an uploaded HR reference: Y-PSNR and LPIPS of both sides, or why not."""
    hr = views.display(read_image(reference))
    if hr.shape != after.display.shape:
      return [
        f'Reference: {hr.shape[1]}x{hr.shape[0]}, but the output is {after.display.shape[1]}x'
        f'{after.display.shape[0]}; upload the HR image of this input.'
      ]
    psnr = [metrics.psnr(side.display, hr, crop_border=scale) for side in (before, after)]
    lines = [f'Y-PSNR to the reference (crop {scale}): before {psnr[0]:.2f} dB · after {psnr[1]:.2f} dB']
    try:
      distance = self._lpips()
      lpips = [distance(side.display, hr) for side in (before, after)]
      lines.append(f'LPIPS to the reference (lower is better): before {lpips[0]:.4f} · after {lpips[1]:.4f}')
    except (FileNotFoundError, ValueError) as e:
      lines.append(f'LPIPS: {e}')
    return lines

  def view(
    self,
    path: str,
    name_a: str,
    name_b: str | None,
    alpha: float,
    compare: str = COMPARE_BICUBIC,
    zoom: tuple[float, float, float] = (50.0, 50.0, 4.0),
    reference: str | None = None,
  ) -> View:
    """Renders (or takes from the cache) both sides of the comparison and writes the download."""
    if compare not in (COMPARE_BICUBIC, COMPARE_ALPHA0):
      raise ValueError(f'compare must be {COMPARE_BICUBIC!r} or {COMPARE_ALPHA0!r}, got {compare!r}.')
    after = self.render(path, name_a, name_b, alpha)
    generator = self.generator(name_a, name_b or None)
    scale = generator.module.scale
    if compare == COMPARE_ALPHA0 and generator.blends:
      before, before_name = self.render(path, name_a, name_b, 0.0), f'α = 0 ({name_a})'
    else:
      before, before_name = self._bicubic(path, scale), 'bicubic'
    after_name = f'{name_a} + {name_b}, α = {float(alpha):.2f}' if generator.blends else name_a
    upload = self.read(path)
    download = self.write_png(upload, after, name_a, name_b, alpha)
    tiles = 'whole image' if after.tile == 0 else f'{after.tile}-px tiles'
    factor = views.preview_factor(*after.display.shape[:2])
    shown = f' (shown at 1/{factor}; zoom and download at full size)' if factor > 1 else ''
    report = [
      f'**{describe_generator(generator.module)}** · {upload.image.shape[1]}x{upload.image.shape[0]} → '
      f'{after.display.shape[1]}x{after.display.shape[0]}{shown} · {tiles} (memory budget '
      f'{self.budget / memory.GIB:.1f} GiB)',
      f'Render: {after.seconds:.2f} s, {after.compilations} compilations',
      f'Before: {before_name} · after: {after_name}',
      f'NIQE (lower is better): before {_format_score(before.niqe)} · after {_format_score(after.niqe)}',
    ]
    if reference:
      report += self._reference_scores(reference, before, after, scale)
    zoom_before, zoom_after = views.zoom(before.display, after.display, *zoom)
    report = '\n\n'.join(report)
    return View(views.preview(before.display), views.preview(after.display), zoom_before, zoom_after, report, download)

  def write_png(self, upload: Upload, render: Render, name_a: str, name_b: str | None, alpha: float) -> Path:
    """Writes `render` at full resolution (the upload's bit depth, alpha kept) as a PNG in `out_dir`."""
    blend = f'_{Path(name_b).stem}_a{float(alpha):.2f}' if name_b else ''
    path = self.out_dir / f'{upload.name}_{Path(name_a).stem}{blend}.png'
    self.out_dir.mkdir(parents=True, exist_ok=True)
    write_image(path, render.image, bit_depth=upload.bits)
    return path

  def niqe_curve(
    self,
    path: str,
    name_a: str,
    name_b: str | None,
    alphas: Sequence[float],
    step: Callable[[Any], Any] = lambda items: items,
  ) -> list[tuple[float, float | str]]:
    """[(α, NIQE of the output at α)] for the upload (user images have no HR: no PSNR). `step` wraps the α
    iterable (a progress bar)."""
    if not name_b:
      raise ValueError('The NIQE-α curve needs two models: choose one to blend with.')
    return [(float(alpha), self.render(path, name_a, name_b, alpha).niqe) for alpha in step(list(alphas))]


@functools.lru_cache(maxsize=2)
def _cached_lpips(source: str) -> LpipsFn:
  return load_lpips(source)
