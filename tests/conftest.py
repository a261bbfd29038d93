"""Test setup: 8 virtual CPU devices for the sharding tests (must run before any JAX op); tools run in-process keep
no compiled programs in the user's cache folder (tests that want the cache set ESRGAN_JAX_COMPILE_CACHE)."""

import os

import jax

os.environ.setdefault('ESRGAN_JAX_COMPILE_CACHE', 'off')

jax.config.update('jax_num_cpu_devices', 8)
