"""`python -m esrgan_jax.main` with one injected fault, for tests/training/test_distributed.py.

usage: faulty_main.py FAULT [MAIN FLAGS...]
FAULT: 'slow_export': process 0 takes 10 s longer to write each exported generator (the default 23-block generator's
67 MB take that long on slow storage); 'raise_on_1': process 1 raises ValueError when its first stage starts, while
process 0 goes on into the first collective.
"""

import runpy
import sys
import time

import jax

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


if __name__ == '__main__':
  fault = sys.argv.pop(1)
  if fault == 'slow_export':
    model_io.save_generator = slow_export(model_io.save_generator)
  elif fault == 'raise_on_1':
    train.train_stage = raise_on_1(train.train_stage)
  else:
    raise SystemExit(f'unknown fault {fault!r}')
  runpy.run_module('esrgan_jax.main', run_name='__main__', alter_sys=True)
