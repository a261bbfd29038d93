"""`python -m esrgan_jax.aot` on the tiny config: compiled for v5e:4x4 and v5e:2x2 (libtpu, in processes of their
own), per-chip memory equal at equal per-chip batch, the collectives of pure data parallelism, the state aliased; a
deliberately replicated variant fails the collective check; `auto` finds a batch that fits whose successor does not.
The same for 8 and 4 H100s where the jax CUDA plugin is installed."""

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from esrgan_jax import aot, extras

ROOT = Path(__file__).resolve().parent.parent
LIBTPU_MISSING = 'libtpu is not installed (the [tpu] extra)'
needs_libtpu = pytest.mark.skipif(importlib.util.find_spec('libtpu') is None, reason=LIBTPU_MISSING)
CUDA_PLUGIN_MISSING = 'the jax CUDA plugin is not installed (the [cuda] extra, 5.5 GB: its own venv)'
needs_cuda_plugin = pytest.mark.skipif(bool(extras.missing_modules('cuda')), reason=CUDA_PLUGIN_MISSING)
# 2 scanned blocks: the gradients of the stacked blocks are all-reduced inside the backward loop
TINY = ['--config', str(ROOT / 'tests' / 'tiny_config.py'), "--config.stages=('psnr',)", '--config.model.num_block=2',
        '--config.scan_blocks=True', '--per_chip_batch', '2']  # fmt: skip


def run_aot(*args) -> subprocess.CompletedProcess:
  env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')])}
  return subprocess.run([sys.executable, '-m', 'esrgan_jax.aot', *args], capture_output=True, text=True, env=env)


@pytest.fixture(scope='module')
def scaling_run(tmp_path_factory):
  """The CLI on v5e:4x4 with --check_scaling (also compiled for v5e:2x2): (process, its one JSON report)."""
  out = tmp_path_factory.mktemp('aot') / 'plan.json'
  result = run_aot(*TINY, '--topology', 'v5e:4x4', '--check_scaling', '--json', str(out))
  assert out.is_file(), result.stderr[-3000:]
  [report] = json.loads(out.read_text())
  return result, report


@needs_libtpu
def test_cli_compiles_for_two_slices_with_equal_per_chip_memory(scaling_run):
  result, report = scaling_run
  assert result.returncode == 0, result.stdout + result.stderr[-3000:]
  assert (report['chips'], report['global_batch'], report['hosts']) == (16, 32, 4)
  memory, reference = report['memory_bytes'], report['scaling_reference']['memory_bytes']
  assert memory['argument'] > 0 and memory['alias'] > 0
  for kind in ('argument', 'output', 'temp', 'total'):
    assert abs(memory[kind] - reference[kind]) <= 0.01 * max(reference[kind], 2**20), kind
  assert all(not problems for problems in report['checks'].values()), report['checks']
  assert set(report['checks']) >= {'per_chip_memory_independent_of_chips', 'data_parallel_collectives'}
  # the gradients, all-reduced: the only collective of the PSNR step
  assert report['collectives']['all-reduce']['bytes'] >= report['gradient_bytes']
  assert report['flops_per_chip'] > 0 and report['hr_patches_per_s'] > 0
  assert 'HBM per chip (GiB)' in result.stdout
  assert re.search(r'^check data_parallel_collectives +ok$', result.stdout, re.MULTILINE), result.stdout
  assert 'TPU_WORKER_HOSTNAMES' not in result.stderr  # libtpu's start-up noise is filtered


@needs_libtpu
def test_gathered_batch_fails_collective_check_and_auto_batch_is_the_largest_that_fits(scaling_run):
  _, report = scaling_run
  budget = report['scaling_reference']['memory_bytes']['total']  # v5e:2x2 at 2 per chip: fits exactly
  env = {
    **os.environ,
    'PYTHONPATH': os.pathsep.join([str(ROOT), str(ROOT / 'tests'), os.environ.get('PYTHONPATH', '')]),
    'JAX_PLATFORMS': 'cpu',
    'TPU_SKIP_MDS_QUERY': '1',
    'ALLOW_MULTIPLE_LIBTPU_LOAD': '1',
  }
  worker = ROOT / 'tests' / 'planning' / 'aot_worker.py'
  result = subprocess.run([sys.executable, str(worker), str(budget)], capture_output=True, text=True, env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(result.stdout.splitlines()[-1])
  assert any('all-gather of a batch-sized array' in p for p in out['gathered_problems']), out['gathered_problems']
  assert out['auto'] == 2
  assert out['tried']['2'].startswith('fits') and out['tried']['3'].startswith('needs'), out['tried']


def test_bad_topology_is_one_line_exit_2():
  result = run_aot(*TINY, '--topology', 'v5e-256')
  assert result.returncode == 2
  assert result.stderr.strip().count('\n') == 0 and 'GENERATION:AxB[xC]' in result.stderr


def test_bad_per_chip_batch_is_one_line_exit_2():
  result = run_aot(*TINY[:-1], 'many', '--topology', 'v5e:2x2')
  assert result.returncode == 2 and "--per_chip_batch must be a positive integer, 'auto'" in result.stderr


@needs_libtpu
def test_gan_step_reduces_each_gradient_once():
  """bf16 compute reduces the gradients in bf16: G's and D's once each (half their float32 bytes), plus BatchNorm
  moments and loss means; D's passes (real, SR) must add their contributions before the all-reduce."""
  env = {
    **os.environ,
    'PYTHONPATH': os.pathsep.join([str(ROOT), str(ROOT / 'tests'), os.environ.get('PYTHONPATH', '')]),
    'JAX_PLATFORMS': 'cpu',
    'TPU_SKIP_MDS_QUERY': '1',
    'ALLOW_MULTIPLE_LIBTPU_LOAD': '1',
  }
  worker = ROOT / 'tests' / 'planning' / 'gan_collectives_worker.py'
  result = subprocess.run([sys.executable, str(worker)], capture_output=True, text=True, env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(result.stdout.splitlines()[-1])
  gradients_bf16 = (out['g_bytes'] + out['d_bytes']) / 2
  assert gradients_bf16 <= out['all_reduce_bytes'] <= 1.05 * gradients_bf16 + 2**16, out


@needs_cuda_plugin
def test_cli_compiles_for_h100s_of_one_host(tmp_path, monkeypatch):
  for name in ('XLA_PYTHON_CLIENT_MEM_FRACTION', 'XLA_PYTHON_CLIENT_ALLOCATOR'):
    monkeypatch.delenv(name, raising=False)
  out = tmp_path / 'plan.json'
  result = run_aot(*TINY, '--topology', 'h100:8', '--check_scaling', '--json', str(out))
  assert result.returncode == 0, result.stdout + result.stderr[-3000:]
  [report] = json.loads(out.read_text())
  assert (report['chip'], report['chips'], report['hosts'], report['global_batch']) == ('h100', 8, 1, 16)
  assert report['topology'] == '8xH100 (h100:8)' and report['scaling_reference']['topology'] == '4xH100 (h100:4)'
  assert all(not problems for problems in report['checks'].values()), report['checks']
  assert report['memory_bytes']['alias'] > 0
  assert report['collectives']['all-reduce']['bytes'] >= report['gradient_bytes']
  # no cost analysis from the GPU executable: FLOPs from the unrolled CPU lowering, HBM bytes from the HLO
  assert report['xla_flops_per_chip'] is None and report['flops_per_chip'] > 0
  assert report['hbm_bytes_accessed_per_chip'] > report['memory_bytes']['argument']
  assert report['roofline']['hbm_s'] > 0 and report['roofline']['ici_s'] > 0
  assert re.search(r'^roofline \(s\) +compute .* / NVLink ', result.stdout, re.MULTILINE), result.stdout
  assert report['usable_hbm_bytes'] == pytest.approx(0.75 * report['hbm_bytes'])  # jax's default allocator share
  assert ' of 74.51 (jax may use 55.88)' in result.stdout, result.stdout


def test_missing_cuda_plugin_is_one_line_exit_2():
  """Where the plugin is installed too: the tool runs with `jax_plugins` blocked, as if it were not."""
  argv = ['esrgan_jax.aot', *TINY, '--topology', 'h100:8']
  script = (
    "import runpy, sys; sys.modules['jax_plugins'] = None; "
    f"sys.argv = {argv!r}; runpy.run_module('esrgan_jax.aot', run_name='__main__')"
  )
  env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')])}
  result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, env=env)
  assert result.returncode == 2, result.stderr[-3000:]
  assert result.stderr.strip().count('\n') == 0 and "pip install 'esrgan_jax[cuda]'" in result.stderr


def test_a_compiler_crash_is_named_and_fails(tmp_path, monkeypatch, capsys):
  """A child killed by a signal (libtpu segfaulted on one step and slice) exits 1 with one line naming the signal."""
  crash = tmp_path / 'crash.sh'
  crash.write_text('#!/bin/sh\nkill -SEGV $$\n')
  crash.chmod(0o755)
  monkeypatch.setattr(sys, 'executable', str(crash))
  handler = signal.getsignal(signal.SIGTERM)
  try:
    assert aot.run_child(['aot']) == 1
  finally:
    signal.signal(signal.SIGTERM, handler)
  assert 'error: the compiling process died of SIGSEGV' in capsys.readouterr().err
