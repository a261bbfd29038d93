"""Test setup: 8 virtual CPU devices for the sharding tests (must run before any JAX op)."""

import jax

jax.config.update('jax_num_cpu_devices', 8)
