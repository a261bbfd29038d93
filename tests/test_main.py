"""End-to-end runs of `python -m esrgan_jax.main` in subprocesses: 8 devices, kill -9 and resume, two processes."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import TEST_XLA_FLAGS

from esrgan_jax.training import workdir_lock
from esrgan_jax.weights import model_io

ROOT = Path(__file__).resolve().parent.parent
TINY_CONFIG = str(Path(__file__).resolve().parent / 'tiny_config.py')


def main_command(workdir, *overrides, runner=('-m', 'esrgan_jax.main')):
  """The training command on TINY_CONFIG; `runner`: what python runs (a script that wraps main, for faults)."""
  return [sys.executable, *runner, f'--config={TINY_CONFIG}', f'--workdir={workdir}', *overrides]


def env(devices=1):
  return {
    **os.environ,
    'XLA_FLAGS': f'--xla_force_host_platform_device_count={devices} {TEST_XLA_FLAGS}',
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
  assert 'oneDNN' not in result.stderr and 'InitializeLog' not in result.stderr  # TF's load-time banner (Intel CPUs)
  for stage, steps in (('psnr', 8), ('gan', 2)):
    assert sorted(history(tmp_path / stage)) == list(range(1, steps + 1))
    summary = json.loads((tmp_path / stage / 'summary.json').read_text())
    assert np.isfinite(summary['val_psnr']) and summary['val_psnr_bicubic'] > 20
    module, params = model_io.load_generator(tmp_path / stage / 'generator.msgpack')
    assert module.num_feat == 8 and module.scale == 4
    assert (tmp_path / stage / 'samples' / 'chelsea_x4.png').is_file()
    assert list((tmp_path / stage).glob('events.out.tfevents.*'))  # TensorBoard
  assert 'validation Y-PSNR' in result.stdout and 'bicubic' in result.stdout


def test_rerun_skips_a_finished_stage_and_a_killed_run_resumes_bit_exactly(tmp_path):
  overrides = ['--config.stages=("psnr",)']
  reference = subprocess.run(
    main_command(tmp_path / 'ref', *overrides), env=env(), capture_output=True, text=True, timeout=600
  )
  assert reference.returncode == 0, reference.stderr[-3000:]
  expected = history(tmp_path / 'ref' / 'psnr')
  again = subprocess.run(
    main_command(tmp_path / 'ref', *overrides), env=env(), capture_output=True, text=True, timeout=600
  )
  assert again.returncode == 0 and 'already complete' in again.stderr  # a finished stage is skipped

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
  # each step once: the records the killed run wrote after its last checkpoint were dropped on resume
  assert (killed_dir / 'psnr' / 'history.jsonl').read_text() == (
    tmp_path / 'ref' / 'psnr' / 'history.jsonl'
  ).read_text()
  assert re.search(r'^step 8/8 l_pix=\S+ ETA 0m00s$', resumed.stdout, re.MULTILINE)  # next to the step lines
  ref_params = model_io.load_generator(tmp_path / 'ref' / 'psnr' / 'generator.msgpack')[1]
  got_params = model_io.load_generator(killed_dir / 'psnr' / 'generator.msgpack')[1]
  import jax  # pylint: disable=g-import-not-at-top

  assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(ref_params), jax.tree.leaves(got_params)))


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def start_two_processes(
  workdir, devices_per_process: int, *overrides, runner=('-m', 'esrgan_jax.main'), process_ids=(0, 1), extra_env=None
) -> list[subprocess.Popen]:
  """`main` on `workdir` as processes 0 and 1 (`process_ids`) of one distributed run of len(process_ids) processes on
  127.0.0.1 (stdout/stderr piped, text)."""
  port = free_port()
  return [
    subprocess.Popen(
      main_command(
        workdir,
        '--distributed',
        f'--coordinator=127.0.0.1:{port}',
        f'--num-processes={len(process_ids)}',
        f'--process-id={i}',
        *overrides,
        runner=runner,
      ),
      env={**env(devices_per_process), **(extra_env or {})},
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )
    for i in process_ids
  ]


def test_two_processes_end_to_end(tmp_path):
  procs = start_two_processes(tmp_path, devices_per_process=2)
  outputs = [p.communicate(timeout=600) for p in procs]
  for p, (_, err) in zip(procs, outputs):
    assert p.returncode == 0, err[-3000:]
  assert 'JAX process 1 / 2, 2 local / 4 global devices' in outputs[1][1]
  for stage in ('psnr', 'gan'):
    assert (tmp_path / stage / 'summary.json').is_file()
    assert sorted(history(tmp_path / stage))[-1] == (8 if stage == 'psnr' else 2)


def test_second_run_in_a_held_workdir_exits_at_once_naming_the_owner(tmp_path):
  with workdir_lock.hold(tmp_path):
    result = subprocess.run(main_command(tmp_path), env=env(), capture_output=True, text=True, timeout=600)
  assert result.returncode == 1
  assert result.stderr.splitlines()[-1] == (
    f'error: {tmp_path} is in use by {workdir_lock.owner_description()}. Wait for that run to finish or stop it, '
    'or choose another --workdir.'
  )
  assert sorted(p.name for p in tmp_path.iterdir()) == [workdir_lock.LOCK_FILE]  # nothing trained or written
  assert 'JAX process' not in result.stderr  # refused before JAX started (the lock is taken first)


def test_two_processes_agree_that_a_held_workdir_is_taken(tmp_path):
  """Only process 0 tries the lock; process 1 learns the outcome and stops too."""
  with workdir_lock.hold(tmp_path):
    procs = start_two_processes(tmp_path, devices_per_process=1)
    errors = [p.communicate(timeout=600)[1] for p in procs]
  assert [p.returncode for p in procs] == [1, 1], errors
  assert f'in use by {workdir_lock.owner_description()}' in errors[0].splitlines()[-1]
  assert 'in use by another run (see process 0)' in errors[1].splitlines()[-1]
  assert not (tmp_path / 'psnr').exists()


def test_missing_perceptual_weights_fail_before_anything_is_built(tmp_path):
  overrides = ['--config.stages=("gan",)', f'--config.gan.pretrained={tmp_path / "g.msgpack"}']
  result = subprocess.run(
    main_command(tmp_path / 'run', *overrides, '--config.gan.perceptual_weight=1.0'),
    env={**env(), 'ESRGAN_JAX_WEIGHTS': str(tmp_path / 'weights')},
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert result.returncode == 2
  last = result.stderr.splitlines()[-1]
  assert last.startswith("error: Missing training input: config.gan.pretrained = '") and 'vgg19.msgpack' in last
  assert 'Traceback' not in result.stderr
  assert sorted(p.name for p in (tmp_path / 'run').iterdir()) == [workdir_lock.LOCK_FILE]  # nothing else written


@pytest.mark.parametrize(
  'args, message',
  [
    (
      ['--config.gan.batch_sze=4'],
      "error: --config.gan.batch_sze=4: config.gan has no field 'batch_sze'; did you mean 'batch_size'? Every field "
      'is listed with a comment in esrgan_jax/configs/default.py.',
    ),
    (
      ['--config.psnr.num_steps=many'],
      "error: --config.psnr.num_steps=many: bad value 'many' (invalid literal for int() with base 10: 'many'); give "
      'a value of the type in esrgan_jax/configs/default.py.',
    ),
    (['--config=no_such_config'], "error: --config: no config file 'no_such_config'; give a file like configs/demo.py"),
  ],
  ids=['typo', 'bad-value', 'no-config-file'],
)
def test_config_mistakes_print_one_line_and_exit_2(tmp_path, args, message):
  result = subprocess.run(main_command(tmp_path, *args), env=env(), capture_output=True, text=True, timeout=600)
  assert result.returncode == 2
  assert result.stderr.startswith(message) and result.stderr.count('\n') == 1, result.stderr
  assert not tmp_path.exists() or not list(tmp_path.iterdir())


def test_config_mistake_with_verbosity_1_shows_the_traceback(tmp_path):
  result = subprocess.run(
    main_command(tmp_path, '--config.gan.batch_sze=4', '--verbosity=1'),
    env=env(),
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert result.returncode != 0 and 'Traceback' in result.stderr and 'batch_sze' in result.stderr


PROBE = (
  'import runpy, sys\n'
  'sys.argv = ["main", *sys.argv[1:]]\n'
  'try:\n  runpy.run_module("esrgan_jax.main", run_name="__main__")\n'
  'except SystemExit as e:\n  loaded = [m for m in ("jax", "tensorflow") if m in sys.modules]\n'
  '  print("exit", e.code, "loaded", loaded, file=sys.stderr)\n  sys.exit(e.code)\n'
)  # runs main with the arguments given, then prints which of JAX and TensorFlow it loaded


def test_help_exits_0_without_loading_tensorflow_or_jax():
  result = subprocess.run(
    [sys.executable, '-c', PROBE, '--help'], env=env(), capture_output=True, text=True, timeout=120
  )
  assert result.returncode == 0, result.stderr
  assert '--workdir: Directory for checkpoints' in result.stdout
  assert result.stderr == 'exit 0 loaded []\n'


def test_unprepared_tfds_dataset_is_one_line_before_anything_is_built(tmp_path):
  result = subprocess.run(
    [sys.executable, '-m', 'esrgan_jax.main', '--config=configs/psnr.py', f'--workdir={tmp_path / "run"}'],
    env={**env(), 'TFDS_DATA_DIR': str(tmp_path / 'tfds')},
    capture_output=True,
    text=True,
    timeout=600,
    cwd=ROOT,
  )
  assert result.returncode == 2, result.stderr[-3000:]
  assert result.stderr.count('\n') == 1 and result.stderr.startswith('error: Missing training input: '), result.stderr
  assert "the TFDS dataset 'div2k/bicubic_x4' is not prepared in " in result.stderr
  assert '`tfds build div2k/bicubic_x4`' in result.stderr and '--config.train_data.source=folder' in result.stderr


def test_a_bad_field_value_is_one_line_before_tensorflow_loads(tmp_path):
  result = subprocess.run(
    [sys.executable, '-c', PROBE, f'--config={TINY_CONFIG}', f'--workdir={tmp_path}', '--config.psnr.gt_size=30'],
    env=env(),
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert result.returncode == 2
  assert result.stderr.splitlines() == [
    'error: config.psnr.gt_size must be a multiple of 4 and >= 16, got 30.',
    "exit 2 loaded ['jax']",  # imported by the checks (model classes), its backends not started; no TensorFlow
  ]


def test_esrgan_config_takes_its_argument_and_a_bad_one_is_one_line(tmp_path):
  bad = subprocess.run(
    [sys.executable, '-m', 'esrgan_jax.main', '--config=configs/esrgan.py:stage=finetune', f'--workdir={tmp_path}'],
    env=env(),
    capture_output=True,
    text=True,
    timeout=600,
    cwd=ROOT,
  )
  assert bad.returncode == 2
  assert bad.stderr == (
    'error: --config configs/esrgan.py:stage=finetune: stage=finetune is not one of both|psnr|gan; '
    'configs/esrgan.py takes stage=both|psnr|gan,scale=4|2.\n'
  )
  good = subprocess.run(  # a bundled name with an argument: parsed and checked; then DIV2K is not prepared here
    [sys.executable, '-m', 'esrgan_jax.main', '--config=esrgan:stage=gan,scale=2', f'--workdir={tmp_path}'],
    env={**env(), 'TFDS_DATA_DIR': str(tmp_path / 'tfds')},
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert good.returncode == 2 and good.stderr.count('\n') == 1, good.stderr
  assert "the TFDS dataset 'div2k/bicubic_x2' is not prepared" in good.stderr
