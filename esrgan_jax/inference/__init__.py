"""Using trained generators: tiled application, network interpolation, and quality metrics by the paper's rules."""

from esrgan_jax.inference.interpolation import interpolate

__all__ = ['interpolate']
