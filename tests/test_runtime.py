"""esrgan_jax.runtime: the fast XLA:CPU flags (when they are set; the installed jaxlib and TensorFlow run with them)
and the platform fields entry points and the trainer choose."""

import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax import runtime

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def checked_jaxlib(monkeypatch):
  monkeypatch.setattr(runtime, '_jaxlib_release', lambda: runtime.CHECKED_JAXLIB_RELEASES[0])


def test_sets_flags_when_unset(checked_jaxlib, monkeypatch):
  monkeypatch.setattr(runtime, '_read_cpuinfo', lambda: AMD_AVX2)  # a measured host kind, whatever runs the test
  environ = {}
  assert runtime.use_fast_cpu_flags(environ)
  assert environ['XLA_FLAGS'].split() == list(runtime.YNN_OFF_FLAGS)


def test_unknown_cpu_keeps_jaxlib_defaults(checked_jaxlib, monkeypatch):
  monkeypatch.setattr(runtime, '_read_cpuinfo', lambda: ARM)
  environ = {}
  assert not runtime.use_fast_cpu_flags(environ) and not environ


AMD_AVX512 = 'processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n'
AMD_AVX2 = 'processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 fma\n'
INTEL_AMX = 'processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n'
INTEL_AVX2 = 'processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 avx2 fma\n'  # not measured
ARM = 'processor\t: 0\nFeatures\t: fp asimd\n'  # aarch64: no x86 flags line


@pytest.mark.parametrize(
  'cpuinfo, training, flags',
  [
    (AMD_AVX512, False, runtime.YNN_ELTWISE_FLAGS),
    (AMD_AVX512, True, runtime.YNN_ELTWISE_FLAGS),
    (AMD_AVX2, False, runtime.YNN_OFF_FLAGS),
    (AMD_AVX2, True, runtime.YNN_ELTWISE_FLAGS),
    (INTEL_AMX, False, runtime.FAST_CPU_FLAGS['Intel with AVX-512 and AMX'][0]),
    (INTEL_AMX, True, runtime.FAST_CPU_FLAGS['Intel with AVX-512 and AMX'][1]),
    (INTEL_AVX2, False, ()),
    (ARM, False, ()),
  ],
  ids=[
    'amd-avx512-inference',
    'amd-avx512-training',
    'amd-avx2-inference',
    'amd-avx2-training',
    'intel-amx-inference',
    'intel-amx-training',
    'unknown-intel',
    'arm',
  ],
)
def test_fast_cpu_flags_by_host_kind_and_workload(cpuinfo, training, flags):
  assert runtime.fast_cpu_flags(training, cpuinfo) == flags


@pytest.mark.parametrize('user_value', ['', '--xla_cpu_enable_fast_math=false'])
def test_keeps_user_xla_flags(checked_jaxlib, user_value):
  environ = {'XLA_FLAGS': user_value}
  assert not runtime.use_fast_cpu_flags(environ)
  assert environ == {'XLA_FLAGS': user_value}


def test_unchecked_jaxlib_gets_no_flags_and_a_warning(monkeypatch, caplog):
  monkeypatch.setattr(runtime, '_jaxlib_release', lambda: (99, 0))
  monkeypatch.setattr(runtime, '_read_cpuinfo', lambda: AMD_AVX2)
  environ = {}
  assert not runtime.use_fast_cpu_flags(environ)
  assert not environ
  assert 'jaxlib 99.0 is not a release the flags were checked on' in caplog.text


def test_the_installed_jaxlib_is_a_checked_release():
  """setup.cfg allows only the jax releases whose XLA the flags were checked on, so none runs without them."""
  assert runtime._jaxlib_release() in runtime.CHECKED_JAXLIB_RELEASES
  requirement = next(line.strip() for line in (REPO / 'setup.cfg').read_text().splitlines() if 'jax>=' in line)
  lowest, below = (tuple(map(int, v.split('.'))) for v in re.findall(r'[<>]=?([\d.]+)', requirement))
  assert lowest[:2] == (0, 10) and below == (0, 11) and runtime.CHECKED_JAXLIB_RELEASES == ((0, 10),), requirement


def test_the_chosen_flags_are_logged_and_recorded(checked_jaxlib, monkeypatch, caplog):
  """The choice is logged once per call; only flags put into this process's environment are recorded."""
  caplog.set_level('INFO')
  monkeypatch.setattr(runtime, '_read_cpuinfo', lambda: AMD_AVX2)
  monkeypatch.setattr(runtime, '_applied_flags', ())
  assert runtime.use_fast_cpu_flags({})
  assert 'XLA:CPU flags for inference on AMD with AVX2: --xla_cpu_experimental_ynn_fusion_type=.' in caplog.text
  assert runtime.applied_cpu_flags() == () and not runtime.runs_xla_convs()  # another environment than this process's
  assert not runtime.use_fast_cpu_flags({'XLA_FLAGS': ''})
  assert "keeping the XLA_FLAGS set before the run ('')" in caplog.text


def test_too_late_after_backend_started(checked_jaxlib, monkeypatch):
  jnp.zeros(1).block_until_ready()  # starts the backend
  monkeypatch.delenv('XLA_FLAGS', raising=False)
  assert not runtime.use_fast_cpu_flags()
  assert 'XLA_FLAGS' not in os.environ


def _run_fresh_python(code: str, *argv: str, **env_vars: str) -> subprocess.CompletedProcess:
  """`python -c code *argv` without this process's XLA_FLAGS and JAX_NUM_CPU_DEVICES, with `env_vars` added."""
  env = {k: v for k, v in os.environ.items() if k not in ('XLA_FLAGS', 'JAX_NUM_CPU_DEVICES')}
  env.update(PYTHONPATH=str(REPO), **env_vars)
  return subprocess.run([sys.executable, '-c', code, *argv], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
  'flags, fused', [(runtime.YNN_ELTWISE_FLAGS, True), (runtime.YNN_OFF_FLAGS, False)], ids=['eltwise', 'off']
)
def test_installed_jaxlib_accepts_flags_and_computes_the_conv(flags, fused):
  """XLA aborts on flags it does not know; with `+eltwise` the conv's bias add moves into its YNNPACK fusion, with
  the fusions off no YNNPACK fusion is left."""
  code = f"""
import os
os.environ['XLA_FLAGS'] = {' '.join(flags)!r}
import jax, numpy as np
rng = np.random.default_rng(0)
x, k, b = rng.random((1, 32, 32, 32), np.float32), rng.random((3, 3, 32, 32), np.float32), rng.random(32, np.float32)
conv = lambda x, k, b: jax.lax.conv_general_dilated(x, k, (1, 1), 'SAME',
                                                   dimension_numbers=('NHWC', 'HWIO', 'NHWC')) + b
compiled = jax.jit(conv).lower(x, k, b).compile()
padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
expected = sum(padded[:, i:i + 32, j:j + 32] @ k[i, j] for i in range(3) for j in range(3)) + b
np.testing.assert_allclose(compiled(x, k, b), expected, rtol=1e-5)
text = compiled.as_text()
fused = [c for c in text.split('\\n\\n') if 'convolution(' in c and ' add(' in c]
print('YNN', int('ynn_fusion' in text), 'FUSED', int(bool(fused)))
"""
  result = _run_fresh_python(code)
  assert result.returncode == 0, result.stderr[-3000:]
  expected = ['FUSED', '1'] if fused else ['YNN', '0']
  words = result.stdout.split()
  assert words[words.index(expected[0]) + 1] == expected[1], result.stdout


def test_eltwise_compiler_options_compile_as_the_eltwise_flags():
  """One jit with YNN_ELTWISE_COMPILER_OPTIONS in a process with the fusions off compiles the same program as the
  process flag `+eltwise`: the options spell out jaxlib's default fusion types (a renamed, dropped or added default
  fails; the program has convs and a dot)."""
  code = """
import hashlib, re, sys, jax, jax.numpy as jnp
from esrgan_jax import runtime
from esrgan_jax.models import RRDBNet
net = RRDBNet(num_block=1)
x = jnp.zeros((1, 16, 16, 3))
params = jax.jit(net.init)(jax.random.key(0), x)['params']
options = runtime.YNN_ELTWISE_COMPILER_OPTIONS if sys.argv[1] == 'options' else None
program = lambda p, x, a: (net.apply({'params': p}, x), jnp.tanh(a @ a) + 1)  # convs, and a dot with eltwise ops
a = jnp.ones((256, 256))
text = jax.jit(program, compiler_options=options).lower(params, x, a).compile().as_text()
print('YNN', text.count('ynn_fusion'), 'HASH', hashlib.md5(re.sub(r'HloModule \\S+', '', text).encode()).hexdigest())
"""
  outputs = []
  for flags, how in ((runtime.YNN_ELTWISE_FLAGS, 'flags'), (runtime.YNN_OFF_FLAGS, 'options')):
    result = _run_fresh_python(code, how, XLA_FLAGS=' '.join(flags))
    assert result.returncode == 0, result.stderr[-3000:]
    outputs.append(result.stdout.split()[-4:])
  assert outputs[0] == outputs[1] and int(outputs[0][1]) > 0, outputs


def test_batch_split_compiler_options_only_replace_the_fusions_off(monkeypatch):
  assert runtime.batch_split_compiler_options(xla_convs=True) == runtime.YNN_ELTWISE_COMPILER_OPTIONS
  assert runtime.batch_split_compiler_options(xla_convs=False) == {}
  for flags, xla_convs in ((runtime.YNN_OFF_FLAGS, True), (runtime.YNN_ELTWISE_FLAGS, False), ((), False)):
    monkeypatch.setattr(runtime, '_applied_flags', flags)  # as use_fast_cpu_flags records them
    assert runtime.runs_xla_convs() is xla_convs
    assert runtime.batch_split_compiler_options() == (runtime.YNN_ELTWISE_COMPILER_OPTIONS if xla_convs else {})


def test_a_process_that_set_the_fusions_off_runs_winograd_dense_blocks():
  """The whole chain in a fresh process: use_fast_cpu_flags on a CPU without AVX-512 -> XLA's own convs ->
  Winograd dense blocks for float32 whole images, one tile per call."""
  code = """
from esrgan_jax import runtime
runtime._read_cpuinfo = lambda: 'vendor_id : AuthenticAMD\\nflags : avx2 fma\\n'
assert runtime.use_fast_cpu_flags()
import jax
from esrgan_jax.inference import apply
from esrgan_jax.models import RRDBNet
module = apply.cpu_whole_batch_module(runtime.for_platform(RRDBNet(num_block=1)))
print('BLOCK', type(module).__name__, module.dense_block.__name__, apply.tiles_per_call(module, jax.devices()[:1]))
"""
  result = _run_fresh_python(code)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.split()[-4:] == ['BLOCK', 'RRDBNet', 'WinogradDenseBlock', '1'], result.stdout


def test_cpu_device_per_core():
  """A fresh process gets one CPU device per core it may run on, before or after importing JAX; a count the user
  chose is kept; this test process (conftest chose 8 devices) is left alone."""
  code = """
import os, sys
if sys.argv[1] == 'late':
  import jax
from esrgan_jax import runtime
count = runtime.use_cpu_device_per_core()
import jax
print('SET', count, 'DEVICES', jax.device_count(), 'CORES', len(os.sched_getaffinity(0)))
"""
  run = lambda when, **env_vars: _run_fresh_python(code, when, **env_vars).stdout.split()
  for when in ('early', 'late'):
    words = run(when)
    cores = int(words[words.index('CORES') + 1])
    assert words[words.index('DEVICES') + 1] == str(cores), words
    assert words[words.index('SET') + 1] == (str(cores) if cores > 1 else 'None'), words
  assert run('early', JAX_NUM_CPU_DEVICES='3')[:4] == ['SET', 'None', 'DEVICES', '3']
  environ = {'XLA_FLAGS': '--xla_force_host_platform_device_count=5'}
  assert runtime.use_cpu_device_per_core(environ) is None and 'JAX_NUM_CPU_DEVICES' not in environ
  assert runtime.use_cpu_device_per_core() is None and jax.device_count() == 8


@pytest.mark.parametrize('flags', [runtime.YNN_ELTWISE_FLAGS, runtime.YNN_OFF_FLAGS], ids=['eltwise', 'off'])
def test_tensorflow_input_ops_run_with_flags(flags):
  """TensorFlow shares the process (the input pipeline) and has its own XLA, which must not reject the flags."""
  code = f"""
import os
os.environ['XLA_FLAGS'] = {' '.join(flags)!r}
import tensorflow as tf
ds = tf.data.Dataset.range(4).map(lambda i: tf.image.resize(tf.fill((8, 8, 3), tf.cast(i, tf.float32)), (4, 4)))
print(sum(float(tf.reduce_sum(x)) for x in ds))
"""
  result = _run_fresh_python(code)
  assert result.returncode == 0, result.stderr[-3000:]
  assert float(result.stdout.split()[-1]) == 4 * 4 * 3 * (0 + 1 + 2 + 3)


@pytest.mark.parametrize('module', ['main', 'upscale', 'evaluate', 'interpolate', 'ablation'])
def test_entry_points_set_flags_when_run_as_scripts(module):
  """`python -m esrgan_jax.X` sets the flags before its first JAX computation (here: before --help exits)."""
  code = f"""
import atexit, os, runpy, sys
atexit.register(lambda: print('XLA_FLAGS=' + os.environ.get('XLA_FLAGS', '<unset>')))
sys.argv = ['{module}', '--help']
runpy.run_module('esrgan_jax.{module}', run_name='__main__')
"""
  result = _run_fresh_python(code)
  training = module in ('main', 'ablation')
  flags = ' '.join(runtime.fast_cpu_flags(training)) or '<unset>'  # unset: a CPU kind not measured
  assert f'XLA_FLAGS={flags}' in result.stdout.splitlines(), result.stderr[-2000:]


@pytest.mark.parametrize('backend, split', [('cpu', True), ('gpu', False), ('tpu', False)])
def test_for_platform_chooses_the_dense_block_by_backend(backend, split):
  from esrgan_jax.models import MSRResNet, RRDBNet  # pylint: disable=g-import-not-at-top
  from esrgan_jax.models.rrdbnet import ResidualDenseBlock  # pylint: disable=g-import-not-at-top
  from esrgan_jax.models.split_conv import SplitConvDenseBlock  # pylint: disable=g-import-not-at-top

  chosen = runtime.for_platform(RRDBNet(num_block=1, dense_block=SplitConvDenseBlock), backend)
  assert chosen == RRDBNet(num_block=1, dense_block=SplitConvDenseBlock if split else ResidualDenseBlock)
  assert runtime.for_platform(MSRResNet(num_block=1), backend) == MSRResNet(num_block=1)  # no dense blocks


def test_the_trainer_chooses_the_platform_dense_block():
  from esrgan_jax.configs import default  # pylint: disable=g-import-not-at-top
  from esrgan_jax.models.split_conv import SplitConvDenseBlock  # pylint: disable=g-import-not-at-top
  from esrgan_jax.training import steps  # pylint: disable=g-import-not-at-top

  on_cpu = jax.default_backend() == 'cpu'
  assert (steps.create_generator(default.get_config()).dense_block is SplitConvDenseBlock) is on_cpu


def test_compile_cache_dir_default_xdg_env_and_off(monkeypatch):
  monkeypatch.setenv('HOME', '/home/u')
  assert runtime.compile_cache_dir({}) == Path('/home/u/.cache/esrgan_jax/jax')
  assert runtime.compile_cache_dir({'XDG_CACHE_HOME': '/c'}) == Path('/c/esrgan_jax/jax')
  assert runtime.compile_cache_dir({'ESRGAN_JAX_COMPILE_CACHE': '/x', 'XDG_CACHE_HOME': '/c'}) == Path('/x')
  for off in ('off', '0', ''):
    assert runtime.compile_cache_dir({'ESRGAN_JAX_COMPILE_CACHE': off}) is None


def test_release_free_memory_returns_freed_heap_pages_to_the_os():
  """64 KB arrays live in malloc's heap (below its mmap threshold): freed, their 128 MB stay resident under a live
  array allocated after them, until trimmed."""
  if platform.libc_ver()[0] != 'glibc':
    assert not runtime.release_free_memory()
    return
  rss_mb = lambda: int(re.search(r'VmRSS:\s+(\d+)', Path('/proc/self/status').read_text())[1]) / 1024
  blocks = [np.ones(16384, np.float32) for _ in range(2048)]
  above = np.ones(16384, np.float32)  # keeps the heap's top where it is
  del blocks
  before = rss_mb()
  assert runtime.release_free_memory()
  assert before - rss_mb() > 64 and above.sum() == 16384
