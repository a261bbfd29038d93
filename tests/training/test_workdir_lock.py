"""esrgan_jax.training.workdir_lock: one run per workdir, released by the kernel even after SIGKILL."""

import os
import signal
import subprocess
import sys
import time

import pytest

from esrgan_jax.training import workdir_lock

HOLD_AND_SLEEP = 'import sys, time; from esrgan_jax.training import workdir_lock\n' + (
  'with workdir_lock.hold(sys.argv[1]):\n  print("held", flush=True)\n  time.sleep(600)\n'
)


def test_second_holder_is_refused_with_the_owner_named(tmp_path):
  with workdir_lock.hold(tmp_path / 'run'):
    assert (tmp_path / 'run' / workdir_lock.LOCK_FILE).read_text().strip() == workdir_lock.owner_description()
    with pytest.raises(workdir_lock.WorkdirLockedError, match=rf'run is in use by .* pid {os.getpid()}\. Wait'):
      with workdir_lock.hold(tmp_path / 'run'):
        pass
  with workdir_lock.hold(tmp_path / 'run'):  # released on exit
    pass


def test_sigkilled_holder_releases_the_lock(tmp_path):
  proc = subprocess.Popen(
    [sys.executable, '-c', HOLD_AND_SLEEP, str(tmp_path)],
    stdout=subprocess.PIPE,
    text=True,
    env={**os.environ, 'JAX_PLATFORMS': 'cpu'},
  )
  try:
    assert proc.stdout.readline().strip() == 'held'
    with pytest.raises(workdir_lock.WorkdirLockedError, match=f'pid {proc.pid}'):
      with workdir_lock.hold(tmp_path):
        pass
  finally:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
  deadline = time.time() + 10
  with workdir_lock.hold(tmp_path):  # no stale lock: the kernel dropped the flock with the process
    assert time.time() < deadline
