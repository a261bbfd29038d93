"""One training run per workdir: an exclusive `flock` on `WORKDIR/.lock`, held by process 0 for the run's life.

The lock file records its owner (`host pid N`). The kernel drops a `flock` when its holder exits, even by SIGKILL, so a
crashed run never leaves a stale lock and rerunning the same command resumes. A single-process run takes it before
JAX starts (`hold(workdir)` imports no JAX), so a second run on a busy workdir is refused at once. On multi-host runs
(`hold(workdir, distributed=True)`, after `jax.distributed.initialize`) only process 0 takes the lock; the others
learn its outcome by a broadcast, so all processes start or stop together.

Object stores (a gs:// workdir) have no locks: there the run goes on without one, saying so. What Orbax guarantees
still holds there: a checkpoint counts only once its commit marker is written, so a killed run resumes from its last
complete checkpoint; but two runs started on one URL workdir at once are not detected.
"""

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from absl import logging

from esrgan_jax.data import storage

LOCK_FILE = '.lock'


class WorkdirLockedError(RuntimeError):
  """Another run holds the workdir."""


def owner_description() -> str:
  """`host pid N`: who holds a lock taken by this process."""
  return f'{socket.gethostname()} pid {os.getpid()}'


def _try_lock(workdir: Path) -> tuple[int | None, str]:
  """(open descriptor holding the lock, '') or (None, the owner recorded in the lock file)."""
  workdir.mkdir(parents=True, exist_ok=True)
  fd = os.open(workdir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    owner = os.pread(fd, 1024, 0).decode(errors='replace').strip()
    os.close(fd)
    return None, owner or 'another process'
  os.ftruncate(fd, 0)
  os.pwrite(fd, f'{owner_description()}\n'.encode(), 0)
  return fd, ''


@contextlib.contextmanager
def hold(workdir: str | os.PathLike, distributed: bool = False) -> Iterator[None]:
  """Holds `workdir` (created if needed) for the `with` body; WorkdirLockedError names the owner if it is taken.

  With `distributed`, call it on every process of a multi-process JAX run: process 0 takes the lock and broadcasts
  whether it got it. A URL workdir is not locked.
  """
  if storage.is_url(workdir):
    logging.warning('%s is on object storage, where runs cannot lock it: start one run per workdir.', workdir)
    yield
    return
  workdir = Path(workdir)
  if distributed:
    import jax  # pylint: disable=g-import-not-at-top  (single-process runs lock before JAX loads)
    import numpy as np  # pylint: disable=g-import-not-at-top
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top

    fd, owner = _try_lock(workdir) if jax.process_index() == 0 else (None, '')
    locked = fd is not None
    if jax.process_count() > 1:
      locked = bool(multihost_utils.broadcast_one_to_all(np.int32(locked)))
  else:
    fd, owner = _try_lock(workdir)
    locked = fd is not None
  if not locked:
    where = f' by {owner}' if owner else ' by another run (see process 0)'
    raise WorkdirLockedError(
      f'{workdir} is in use{where}. Wait for that run to finish or stop it, or choose another --workdir.'
    )
  try:
    yield
  finally:
    if fd is not None:
      os.close(fd)  # releases the flock; the file stays (deleting it would race with a run taking it)
