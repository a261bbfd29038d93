"""End-to-end runs of `python -m esrgan_jax.main` in subprocesses: 8 devices, kill -9 and resume, two processes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from esrgan_jax.weights import model_io

ROOT = Path(__file__).resolve().parent.parent
TINY_CONFIG = str(Path(__file__).resolve().parent / 'tiny_config.py')


def main_command(workdir, *overrides):
  return [sys.executable, '-m', 'esrgan_jax.main', f'--config={TINY_CONFIG}', f'--workdir={workdir}', *overrides]


def env(devices=1):
  return {
    **os.environ,
    'XLA_FLAGS': f'--xla_force_host_platform_device_count={devices}',
    'JAX_PLATFORMS': 'cpu',
    'PYTHONPATH': str(ROOT),
  }


def history(stage_dir: Path) -> dict[int, dict]:
  """step -> losses; a step logged twice (before a kill and after the resume) keeps its last record."""
  records = [json.loads(line) for line in (stage_dir / 'history.jsonl').read_text().splitlines()]
  return {r['step']: r for r in records}


def test_both_stages_on_eight_devices(tmp_path):
  result = subprocess.run(main_command(tmp_path), env=env(8), capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'global devices' in result.stderr and '8 local / 8 global devices' in result.stderr
  for stage, steps in (('psnr', 8), ('gan', 2)):
    assert sorted(history(tmp_path / stage)) == list(range(1, steps + 1))
    summary = json.loads((tmp_path / stage / 'summary.json').read_text())
    assert np.isfinite(summary['val_psnr']) and summary['val_psnr_bicubic'] > 20
    module, params = model_io.load_generator(tmp_path / stage / 'generator.msgpack')
    assert module.num_feat == 8 and module.scale == 4
    assert (tmp_path / stage / 'samples' / 'chelsea_x4.png').is_file()
    assert list((tmp_path / stage).glob('events.out.tfevents.*'))  # TensorBoard
  assert 'validation Y-PSNR' in result.stdout and 'bicubic' in result.stdout


def test_sigkill_then_rerun_resumes_bit_exactly(tmp_path):
  overrides = ['--config.stages=("psnr",)']
  reference = subprocess.run(
    main_command(tmp_path / 'ref', *overrides), env=env(), capture_output=True, text=True, timeout=600
  )
  assert reference.returncode == 0, reference.stderr[-3000:]
  expected = history(tmp_path / 'ref' / 'psnr')

  killed_dir = tmp_path / 'killed'
  proc = subprocess.Popen(
    main_command(killed_dir, *overrides), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
  )
  log = killed_dir / 'psnr' / 'history.jsonl'
  deadline = time.time() + 300
  while time.time() < deadline and proc.poll() is None:
    if log.is_file() and len(log.read_text().splitlines()) >= 5:  # mid-run, past the step-4 checkpoint
      break
    time.sleep(0.05)
  assert proc.poll() is None, 'the run ended before it could be killed'
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  killed_at = max(history(killed_dir / 'psnr'))
  assert killed_at < 8

  resumed = subprocess.run(main_command(killed_dir, *overrides), env=env(), capture_output=True, text=True, timeout=600)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 'Resumed stage psnr from step' in resumed.stderr
  got = history(killed_dir / 'psnr')
  assert got == expected  # every step's losses, bit for bit, including those recomputed after the resume
  ref_params = model_io.load_generator(tmp_path / 'ref' / 'psnr' / 'generator.msgpack')[1]
  got_params = model_io.load_generator(killed_dir / 'psnr' / 'generator.msgpack')[1]
  import jax  # pylint: disable=g-import-not-at-top

  assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(ref_params), jax.tree.leaves(got_params)))


def test_rerun_after_completion_skips_finished_stages(tmp_path):
  overrides = ['--config.stages=("psnr",)', '--config.psnr.num_steps=2']
  first = subprocess.run(main_command(tmp_path, *overrides), env=env(), capture_output=True, text=True, timeout=600)
  assert first.returncode == 0, first.stderr[-3000:]
  again = subprocess.run(main_command(tmp_path, *overrides), env=env(), capture_output=True, text=True, timeout=600)
  assert again.returncode == 0 and 'already complete' in again.stderr


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def test_two_processes_end_to_end(tmp_path):
  port = free_port()
  procs = [
    subprocess.Popen(
      main_command(
        tmp_path, '--distributed', f'--coordinator=127.0.0.1:{port}', '--num-processes=2', f'--process-id={i}'
      ),
      env=env(2),
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )
    for i in range(2)
  ]
  outputs = [p.communicate(timeout=600) for p in procs]
  for p, (_, err) in zip(procs, outputs):
    assert p.returncode == 0, err[-3000:]
  assert 'JAX process 1 / 2, 2 local / 4 global devices' in outputs[1][1]
  for stage in ('psnr', 'gan'):
    assert (tmp_path / stage / 'summary.json').is_file()
    assert sorted(history(tmp_path / stage))[-1] == (8 if stage == 'psnr' else 2)
