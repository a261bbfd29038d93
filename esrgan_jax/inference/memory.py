"""How much memory a generator's forward pass needs, and the tile size that keeps it within a budget.

`activation_bytes` is the XLA:CPU working set of RRDBNet/MSRResNet inference: the x`scale` part dominates, with
three float32 feature maps of `num_feat` channels at the output resolution alive at once (checked against
`jax.jit(...).lower(...).compile().memory_analysis()` in tests/inference/test_memory.py). `tile_for_budget` picks
whole-image inference when that fits the budget, else the largest core tile whose window does.
"""

from typing import Any

GIB = 2**30
DEFAULT_BUDGET_CAP = 4 * GIB  # `default_budget` never exceeds this
MIN_TILE = 32  # `tile_for_budget` never goes below this, whatever the budget


def activation_bytes(module: Any, height: int, width: int) -> int:
  """Bytes XLA needs for one [1, height, width, C] forward of an RRDBNet or MSRResNet (float32 activations)."""
  hr_channels = 3 * module.num_feat + 3 * (module.num_in_ch + module.num_out_ch)
  return 4 * hr_channels * module.scale**2 * height * width


def available_bytes() -> int:
  """Memory available to new allocations without swapping (psutil's `available`: MemAvailable on Linux). psutil
  loads here, not at import: the video path imports this module, and benchmarks/accelerator.py runs that path on
  bare GPU machines without psutil."""
  import psutil  # pylint: disable=g-import-not-at-top

  return psutil.virtual_memory().available


def default_budget() -> int:
  """Half the available memory, at most DEFAULT_BUDGET_CAP."""
  return min(available_bytes() // 2, DEFAULT_BUDGET_CAP)


def tile_for_budget(module: Any, height: int, width: int, budget: int, tile_pad: int, batch_tiles: int = 1) -> int:
  """0 (whole image) when `activation_bytes` of the image fits `budget`, else the largest core tile (a multiple of
  8, at least MIN_TILE) whose square window of tile + 2 * tile_pad pixels fits `batch_tiles` times."""
  if activation_bytes(module, height, width) <= budget:
    return 0
  window = int((budget / batch_tiles / activation_bytes(module, 1, 1)) ** 0.5)
  return max(MIN_TILE, (window - 2 * tile_pad) // 8 * 8)
