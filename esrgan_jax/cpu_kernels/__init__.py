"""Optional native CPU kernels called from jitted programs through XLA's FFI (built on demand, see build.py)."""
