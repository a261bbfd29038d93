"""`python -m esrgan_jax.main` with one injected fault, for tests/training/test_distributed.py.

usage: faulty_main.py FAULT [MAIN FLAGS...]
FAULT: 'slow_export': process 0 takes 10 s longer to write each exported generator (the default 23-block generator's
67 MB take that long on slow storage); 'raise_on_1': process 1 raises ValueError when its first stage starts, while
process 0 goes on into the first collective; 'kill_at_save_4': asked to save the checkpoint of step 4, every process
waits for the earlier checkpoint to be complete, meets the others and kills itself (SIGKILL), as `kill -9` would.
"""

import os
import runpy
import signal
import sys
import time

import jax
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

from esrgan_jax.training import train
from esrgan_jax.weights import model_io


def slow_export(save):
  def save_generator(*args, **kwargs):
    time.sleep(10.0)
    save(*args, **kwargs)

  return save_generator


def raise_on_1(train_stage):
  def train_stage_or_fail(*args, **kwargs):
    if jax.process_index() == 1:
      raise ValueError('injected failure on process 1')
    return train_stage(*args, **kwargs)

  return train_stage_or_fail


def kill_at_save_4(save):
  def save_or_die(manager, step, *args, **kwargs):
    if step == 4:
      manager.wait_until_finished()
      multihost_utils.sync_global_devices('faulty_main: kill')
      os.kill(os.getpid(), signal.SIGKILL)
    return save(manager, step, *args, **kwargs)

  return save_or_die


if __name__ == '__main__':
  fault = sys.argv.pop(1)
  if fault == 'slow_export':
    model_io.save_generator = slow_export(model_io.save_generator)
  elif fault == 'raise_on_1':
    train.train_stage = raise_on_1(train.train_stage)
  elif fault == 'kill_at_save_4':
    ocp.CheckpointManager.save = kill_at_save_4(ocp.CheckpointManager.save)
  else:
    raise SystemExit(f'unknown fault {fault!r}')
  runpy.run_module('esrgan_jax.main', run_name='__main__', alter_sys=True)
