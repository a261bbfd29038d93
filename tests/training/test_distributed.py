"""Multi-process mistakes and failures: flags, the roll call (in threads), and `main --distributed` in subprocesses,
also on an emulated gs:// workdir (killed and resumed).

Every subprocess test has a timeout, so a hang fails the test instead of blocking the suite.
"""

import json
import signal
import subprocess
import threading
from pathlib import Path

import helpers
import pytest
from test_main import env, free_port, main_command, start_two_processes

from esrgan_jax.training import distributed

FAULTY_MAIN = str(Path(__file__).with_name('faulty_main.py'))


@pytest.mark.parametrize(
  'flags, message',
  [
    (('127.0.0.1:1234', 2, 2), '--process-id must be in 0..1 for --num-processes=2, got 2.'),
    (('127.0.0.1:1234', 2, -1), '--process-id must be in 0..1 for --num-processes=2, got -1.'),
    (('127.0.0.1:1234', 0, 0), '--num-processes must be >= 1, got 0.'),
    (('127.0.0.1', 2, 0), "--coordinator must be HOST:PORT of process 0 (e.g. 10.0.0.2:8476), got '127.0.0.1'."),
    (('127.0.0.1:1234', None, 0), 'missing: --num-processes.'),
  ],
)
def test_bad_flags_are_named_with_exit_code_2(flags, message):
  with pytest.raises(distributed.DistributedSetupError) as e:
    distributed.check_flags(*flags)
  assert str(e.value).endswith(message) and e.value.exit_code == 2


def test_flags_left_to_auto_detection_pass():
  distributed.check_flags(None, None, None)
  distributed.check_flags('host:1', 4, 3)


def roll_call(coordinator: str, num_processes: int, process_ids, timeout_s: float) -> dict[int, BaseException | None]:
  """Runs the roll call for `process_ids` (a list, duplicates allowed) in threads; {thread number: error or None}."""
  outcome = {}

  def run(n, process_id):
    try:
      if process_id == 0:
        distributed._coordinate(coordinator, num_processes, timeout_s)
      else:
        distributed._report(coordinator, num_processes, process_id, timeout_s)
      outcome[n] = None
    except distributed.DistributedSetupError as e:
      outcome[n] = e

  threads = [threading.Thread(target=run, args=(n, i)) for n, i in enumerate(process_ids)]
  for t in threads:
    t.start()
  for t in threads:
    t.join(timeout=60)
  assert not any(t.is_alive() for t in threads)
  return outcome


def test_roll_call_starts_everyone_together():
  assert roll_call(f'127.0.0.1:{free_port()}', 3, [0, 1, 2], timeout_s=20) == {0: None, 1: None, 2: None}


def test_roll_call_names_the_missing_processes():
  address = f'127.0.0.1:{free_port()}'
  outcome = roll_call(address, 4, [0, 2], timeout_s=1)
  expected = f'processes 1, 3 of 4 did not report to the coordinator {address} within 1 s'
  assert all(str(e).startswith(expected) for e in outcome.values()), outcome


def test_roll_call_names_a_duplicate_process_id():
  outcome = roll_call(f'127.0.0.1:{free_port()}', 3, [0, 1, 1], timeout_s=20)
  for e in outcome.values():
    assert str(e).startswith('two processes say --process-id=1 (127.0.0.1 and 127.0.0.1)') and e.exit_code == 2


def test_roll_call_without_process_0_names_the_coordinator():
  address = f'127.0.0.1:{free_port()}'
  [e] = roll_call(address, 2, [1], timeout_s=0.5).values()
  assert str(e).startswith(f'process 0 (the coordinator, --coordinator={address}) did not answer within 0.5 s')


def run_main(*args, timeout=300, **kwargs) -> subprocess.CompletedProcess:
  return subprocess.run(main_command(*args, **kwargs), env=env(), capture_output=True, text=True, timeout=timeout)


def test_out_of_range_process_id_is_one_line_exit_2(tmp_path):
  result = run_main(tmp_path, '--distributed', '--coordinator=127.0.0.1:1', '--num-processes=2', '--process-id=2')
  assert result.returncode == 2, result.stderr[-2000:]
  assert result.stderr.splitlines()[-1] == 'error: --process-id must be in 0..1 for --num-processes=2, got 2.'
  assert 'Traceback' not in result.stderr


def test_missing_peer_stops_in_seconds_naming_it(tmp_path):
  port = free_port()
  result = run_main(
    tmp_path,
    '--distributed',
    f'--coordinator=127.0.0.1:{port}',
    '--num-processes=2',
    '--process-id=0',
    '--distributed-timeout=2',
  )
  assert result.returncode == 1, result.stderr[-2000:]
  assert result.stderr.splitlines()[-1].startswith(
    f'error: process 1 of 2 did not report to the coordinator 127.0.0.1:{port} within 2 s'
  )
  assert not (tmp_path / 'psnr').exists()


def test_two_processes_with_id_0_are_told_so(tmp_path):
  # the first to listen waits 15 s for process 1: time enough for the second to start and find the port taken
  procs = start_two_processes(tmp_path, 1, '--distributed-timeout=15', process_ids=(0, 0))
  errors = sorted(p.communicate(timeout=300)[1].splitlines()[-1] for p in procs)
  assert sorted(p.returncode for p in procs) == [1, 2], errors
  assert 'another process was probably started with --process-id=0 too' in errors[0]
  assert 'process 1 of 2 did not report' in errors[1]


def test_an_exception_on_one_process_stops_both_with_its_message(tmp_path):
  procs = start_two_processes(tmp_path, 1, runner=(FAULTY_MAIN, 'raise_on_1'))
  errors = [p.communicate(timeout=600)[1] for p in procs]
  assert [p.returncode for p in procs] == [1, 1], [e[-2000:] for e in errors]
  assert errors[1].splitlines()[-1] == 'error: process 1: ValueError: injected failure on process 1'
  assert errors[0].splitlines()[-1] == 'error: process 1 failed: ValueError: injected failure on process 1'


def test_gan_stage_waits_for_process_0_to_finish_writing_the_psnr_generator(tmp_path):
  """With process 0's export slowed by 10 s, process 1 used to look for psnr/generator.msgpack before it existed."""
  procs = start_two_processes(
    tmp_path, 1, '--config.psnr.num_steps=2', '--config.gan.num_steps=1', runner=(FAULTY_MAIN, 'slow_export')
  )
  outputs = [p.communicate(timeout=600) for p in procs]
  assert [p.returncode for p in procs] == [0, 0], [err[-3000:] for _, err in outputs]
  assert json.loads((tmp_path / 'gan' / 'summary.json').read_text())['steps'] == 1


def test_two_processes_on_a_gs_workdir_finish_and_resume_byte_identically(tmp_path):
  """The demo, shortened, on an emulated gs:// bucket: one run uninterrupted; one killed (kill -9 of both processes)
  after its checkpoint of step 2, then rerun. Same history and generator, byte for byte."""
  with helpers.fake_gcs() as gcs:

    def start(run: str, runner=('-m', 'esrgan_jax.main')) -> list[subprocess.Popen]:
      # TensorBoard writes through TensorFlow's GCS client, which cannot be pointed at the emulator
      overrides = (
        '--config.stages=("psnr",)',
        '--config.psnr.num_steps=4',
        f'--config.tensorboard_dir={tmp_path / run}',
      )
      return start_two_processes(f'gs://bucket/{run}', 1, *overrides, runner=runner, extra_env=gcs)

    def stderr_of(procs: list[subprocess.Popen], returncode: int) -> list[str]:
      errors = [p.communicate(timeout=600)[1] for p in procs]
      assert [p.returncode for p in procs] == [returncode] * 2, [e[-3000:] for e in errors]
      return errors

    # both at once: each process spends much of its time waiting for the other or for the emulator
    whole, killed = start('whole'), start('run', runner=(FAULTY_MAIN, 'kill_at_save_4'))
    stderr_of(whole, 0)
    stderr_of(killed, -signal.SIGKILL)
    history = helpers.read_gcs_object(gcs, 'gs://bucket/run/psnr/history.jsonl').decode()
    assert [json.loads(line)['step'] for line in history.splitlines()] == [1, 2, 3, 4]  # the last checkpoint: 2
    for err in stderr_of(start('run'), 0):
      assert 'Resumed stage psnr from step 2 (gs://bucket/run/psnr/checkpoints)' in err
    for name in ('history.jsonl', 'generator.msgpack'):
      got, expected = (helpers.read_gcs_object(gcs, f'gs://bucket/{run}/psnr/{name}') for run in ('run', 'whole'))
      assert got == expected, name
