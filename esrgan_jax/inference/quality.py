"""The table of image-quality metrics that `evaluate`, training validation and the ablation can report.

Each metric scores a uint8 HW3 SR image, against its HR image (uint8, or float in [0, 1]) when it
`needs_reference`, with `crop_border` pixels ignored on every side; `test_y_channel` selects PSNR/SSIM on the BT.601
luma (NIQE always uses it). A metric needing set-up (a network's weights, e.g. LPIPS) joins by passing
`{**METRICS, name: Metric(...)}` as `available` to `select`.
"""

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from esrgan_jax.inference import metrics

# (sr uint8 HW3, hr HW3 (uint8, or float in [0, 1]) or None, crop_border, test_y_channel) -> score
ScoreFn = Callable[[np.ndarray, np.ndarray | None, int, bool], float]


@dataclasses.dataclass(frozen=True)
class Metric:
  name: str  # key in results, CSV/JSON column
  label: str  # table header
  needs_reference: bool
  higher_is_better: bool
  compute: ScoreFn
  decimals: int  # in tables (2 more in CSV files)


def _niqe(sr: np.ndarray, crop_border: int) -> float:
  from esrgan_jax.inference import niqe  # pylint: disable=g-import-not-at-top  (scipy: at the first NIQE, not --help)

  return niqe.niqe(sr, crop_border)


METRICS: dict[str, Metric] = {
  'psnr': Metric('psnr', 'PSNR', True, True, lambda sr, hr, crop, y: metrics.psnr(sr, hr, crop, y), 2),
  'ssim': Metric('ssim', 'SSIM', True, True, lambda sr, hr, crop, y: metrics.ssim(sr, hr, crop, y), 4),
  'niqe': Metric('niqe', 'NIQE', False, False, lambda sr, hr, crop, y: _niqe(sr, crop), 4),
}
DISTORTION = ('psnr', 'ssim')
DEFAULT = ('psnr', 'ssim', 'niqe')


def select(names: str | Sequence[str], available: Mapping[str, Metric] | None = None) -> tuple[Metric, ...]:
  """The metrics named by a comma-separated string or a sequence of names, in that order; ValueError if unknown."""
  available = METRICS if available is None else available
  names = [n.strip() for n in names.split(',')] if isinstance(names, str) else list(names)
  unknown = [n for n in names if n not in available]
  if unknown or not names or len(set(names)) != len(names):
    raise ValueError(
      f'metrics must be distinct names among {", ".join(available)}; got {",".join(names) or "none"}'
      + (f' ({", ".join(unknown)} unknown)' if unknown else '')
      + '.'
    )
  return tuple(available[n] for n in names)


def no_reference(selected: Sequence[Metric]) -> tuple[Metric, ...]:
  """The metrics of `selected` that need no HR image (NIQE)."""
  return tuple(m for m in selected if not m.needs_reference)


def compute_all(
  selected: Sequence[Metric], sr: np.ndarray, hr: np.ndarray | None, crop_border: int, test_y_channel: bool = True
) -> dict[str, float]:
  """{name: score} of one uint8 HW3 SR image; ValueError if a metric needs the HR image and `hr` is None."""
  missing = [m.name for m in selected if m.needs_reference and hr is None]
  if missing:
    usable = ', '.join(m.name for m in no_reference(selected)) or 'no-reference metrics such as niqe'
    raise ValueError(f'{", ".join(missing)} need an HR image; without one, score {usable}.')
  return {m.name: float(m.compute(sr, hr, crop_border, test_y_channel)) for m in selected}
