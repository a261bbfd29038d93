"""Test setup: 8 virtual CPU devices for the sharding tests (must run before any JAX op); tools run in-process keep
no compiled programs in the user's cache folder (tests that want the cache set ESRGAN_JAX_COMPILE_CACHE).

Programs compile without LLVM's optimisation passes (`TEST_XLA_FLAGS`, also given to the tools and training runs the
tests start): the tests' tiny nets run for milliseconds, yet optimising their code took most of the suite's time (for
tests/training/test_train.py 15 min against 4.5 min unoptimised, 2 loaded cores). XLA's own HLO passes still run, so
the programs compute the same things, up to the last bit of some float32 results; speed is measured by benchmarks/.
"""

import os

import jax
from helpers import TEST_XLA_FLAGS

os.environ.setdefault('ESRGAN_JAX_COMPILE_CACHE', 'off')
os.environ['XLA_FLAGS'] = f'{os.environ.get("XLA_FLAGS", "")} {TEST_XLA_FLAGS}'.strip()

# With libtpu installed (the [tpu] extra), JAX would try to start a TPU runtime: tests and the tools they start run on
# CPU; only `esrgan_jax.aot` loads libtpu, in its own process.
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
jax.config.update('jax_platforms', os.environ['JAX_PLATFORMS'])
jax.config.update('jax_num_cpu_devices', 8)
