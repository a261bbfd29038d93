"""Test setup: 8 virtual CPU devices for the sharding tests (must run before any JAX op); tools run in-process keep
no compiled programs in the user's cache folder (tests that want the cache set ESRGAN_JAX_COMPILE_CACHE).

Programs compile without LLVM's optimisation passes (`TEST_XLA_FLAGS`, also given to the tools and training runs the
tests start): the tests' tiny nets run for milliseconds, yet optimising their code took most of the suite's time (for
tests/training/test_train.py 15 min against 4.5 min unoptimised, 2 loaded cores). XLA's own HLO passes still run, so
the programs compute the same things, up to the last bit of some float32 results; speed is measured by benchmarks/.
"""

import os
import re

import jax
import pytest
from helpers import TEST_XLA_FLAGS

os.environ.setdefault('ESRGAN_JAX_COMPILE_CACHE', 'off')
os.environ['XLA_FLAGS'] = f'{os.environ.get("XLA_FLAGS", "")} {TEST_XLA_FLAGS}'.strip()

# With libtpu installed (the [tpu] extra), JAX would try to start a TPU runtime: tests and the tools they start run on
# CPU; only `esrgan_jax.aot` loads libtpu, in its own process.
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
jax.config.update('jax_platforms', os.environ['JAX_PLATFORMS'])
jax.config.update('jax_num_cpu_devices', 8)

# No silent skips. With ESRGAN_JAX_STRICT_SKIPS=1 (.ci/run sets it) a skipped test whose reason matches none of these
# regular expressions fails the run: the README's test command installs everything else the suite needs. Add a line
# (with a comment saying why) for an optional dependency or a host condition that CI may lack.
ALLOWED_SKIP_REASONS = (
  # tests/cpu_kernels: the oneDNN conv needs g++ and the [cpu-bf16] extra (.ci/run installs it; README's command not)
  r'oneDNN conv library cannot be built here',
  # tests/cpu_kernels: oneDNN's bf16 convs need AVX-512 or AVX-NE-CONVERT; AVX2-only hosts (one AMD kind) lack both
  r'oneDNN has no bf16 convolution for this CPU',
  # tests/test_aot.py: compiling for H100s needs the [cuda] extra (jax[cuda12], 5.5 GB), which the README's command and
  # .ci/run do not install (test_missing_cuda_plugin_is_one_line_exit_2 runs everywhere)
  r'the jax CUDA plugin is not installed',
)
_unexpected_skips: list[str] = []


def pytest_runtest_logreport(report):
  if report.skipped and not hasattr(report, 'wasxfail'):
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if not any(re.search(allowed, reason) for allowed in ALLOWED_SKIP_REASONS):
      _unexpected_skips.append(f'{report.nodeid}: {reason}')


def pytest_sessionfinish(session, exitstatus):
  strict = os.environ.get('ESRGAN_JAX_STRICT_SKIPS') == '1'
  if strict and _unexpected_skips and not hasattr(session.config, 'workerinput'):  # on the xdist controller
    reporter = session.config.pluginmanager.get_plugin('terminalreporter')
    reporter.write_line(f'\n{len(_unexpected_skips)} skips not in tests/conftest.py ALLOWED_SKIP_REASONS:')
    for line in _unexpected_skips:
      reporter.write_line(f'  {line}')
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
