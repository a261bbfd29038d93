"""Using trained generators: tiled application, network interpolation, and quality metrics by the paper's rules."""

from typing import Any

__all__ = ['interpolate']


def __getattr__(name: str) -> Any:
  """`interpolate` loads JAX on first use, so the metrics (numpy) load without it (fast `evaluate --help`)."""
  if name == 'interpolate':
    from esrgan_jax.inference.interpolation import interpolate  # pylint: disable=g-import-not-at-top

    return interpolate
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
