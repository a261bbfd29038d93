"""One generator, or two of one architecture blended on the device: α moves, nothing recompiles.

The params stay on the device; `params(alpha)` is `esrgan_jax.inference.interpolation.interpolate` over device
arrays, a pytree map whose elementwise ops compile once per leaf shape and then take α as an argument. The blended
params then go through the library's jitted forward (`esrgan_jax.inference.apply.make_apply_fn`), compiled per
module config and input shape, so a new α reuses every program a previous α compiled.
"""

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import numpy as np

from esrgan_jax import runtime
from esrgan_jax.inference import memory
from esrgan_jax.inference.apply import make_apply_fn, upscale_array
from esrgan_jax.inference.interpolation import check_same_generator, interpolate


class BlendedGenerator:
  """`module` with `params_a` (α = 0) or, given `params_b` of the same architecture, (1 − α)·a + α·b."""

  def __init__(self, module: nn.Module, params_a: Any, params_b: Any = None, module_b: nn.Module | None = None):
    if module_b is not None:
      check_same_generator(module, module_b, 'the two models')
    self.module = runtime.for_platform(module)
    self._a = jax.device_put(params_a)
    self._b = None if params_b is None else jax.device_put(params_b)

  @property
  def blends(self) -> bool:
    """Whether there is a second model, so α matters."""
    return self._b is not None

  def params(self, alpha: float) -> Any:
    """The params at `alpha` (ignored without a second model), on the device."""
    return self._a if self._b is None else interpolate(self._a, self._b, alpha)

  def upscale(self, image: np.ndarray, alpha: float, *, budget: int, tile_pad: int = 16) -> tuple[np.ndarray, int]:
    """(HW or HWC float32 output in [0, 1], `scale` times larger, the core tile used: 0 = whole image) for an HW or
    HWC (1-4 channels) image in [0, 1]; tiles as large as `budget` bytes of activations allow
    (`esrgan_jax.inference.memory.tile_for_budget`), one per call, with a tqdm bar over the tiles (the page's
    progress bar)."""
    tile = memory.tile_for_budget(self.module, *image.shape[:2], budget, tile_pad)
    apply_fn: Callable[[np.ndarray], Any] = make_apply_fn(self.module, self.params(alpha))
    out = upscale_array(
      apply_fn, image, scale=self.module.scale, tile=tile, tile_pad=tile_pad, batch_tiles=1, progress=tile > 0
    )
    return out, tile
