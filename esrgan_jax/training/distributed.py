"""Multi-process setup for `main --distributed`: mistakes caught in seconds, and processes that fail together.

- `check_flags`: --coordinator/--num-processes/--process-id checked before anything connects.
- `initialize`: a roll call on the coordinator's port before `jax.distributed.initialize` (whose own failures abort
  the process with a C++ stack trace after minutes): process 0 listens there, every other process reports its id, and
  within `timeout_s` seconds all of them start together or all stop with one line naming the missing processes, a
  duplicate id, or a process that disagrees on --num-processes. Then `jax.distributed.initialize` with the same
  timeout.
- `fail_together`: wraps `main` so that an exception (or a non-zero exit) on any process makes every process exit
  promptly, each printing the first failure in one line, instead of the others waiting in a collective forever. The
  failure travels over `failure_channel` (process 0's hub), which `initialize` opens.
"""

import atexit
import contextlib
import functools
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from esrgan_jax.training import failure_channel

DEFAULT_TIMEOUT_S = 30  # for the roll call and jax.distributed.initialize; pods that boot slowly may need more
_ADDRESS_BYTES = 256  # the failure channel's 'HOST PORT', as broadcast from process 0
_POLL_S = 0.5  # how often each process looks for a failure reported by another
_GRACE_S = 1.0  # how long a notified process waits for its own failure to be reported first
_ACK_WAIT_S = 10.0  # how long process 0 (whose exit closes the failure channel) waits for the others to leave


class DistributedSetupError(RuntimeError):
  """The processes could not start together; `exit_code` is 2 for a mistake in the flags, 1 otherwise."""

  def __init__(self, message: str, exit_code: int = 1):
    super().__init__(message)
    self.exit_code = exit_code


def check_flags(coordinator: str | None, num_processes: int | None, process_id: int | None) -> None:
  """Raises DistributedSetupError (exit code 2) for --distributed flags that cannot work. All three unset: JAX
  detects them from the environment (TPU pods, SLURM, ...)."""
  given = {'--coordinator': coordinator, '--num-processes': num_processes, '--process-id': process_id}
  missing = [name for name, value in given.items() if value is None]
  if len(missing) == 3:
    return
  if missing:
    raise DistributedSetupError(
      f'--distributed needs --coordinator, --num-processes and --process-id together (or none of them, to detect '
      f'them on TPU pods and SLURM); missing: {", ".join(missing)}.',
      exit_code=2,
    )
  host, _, port = coordinator.rpartition(':')
  if not host or not port.isdigit() or not 0 < int(port) < 65536:
    raise DistributedSetupError(
      f'--coordinator must be HOST:PORT of process 0 (e.g. 10.0.0.2:8476), got {coordinator!r}.', exit_code=2
    )
  if num_processes < 1:
    raise DistributedSetupError(f'--num-processes must be >= 1, got {num_processes}.', exit_code=2)
  if not 0 <= process_id < num_processes:
    raise DistributedSetupError(
      f'--process-id must be in 0..{num_processes - 1} for --num-processes={num_processes}, got {process_id}.',
      exit_code=2,
    )


def _listen(port: int) -> socket.socket:
  """A listening socket on `port` on every address; fails if any process (a second process 0) holds the port."""
  if socket.has_dualstack_ipv6():
    return socket.create_server(('', port), family=socket.AF_INET6, dualstack_ipv6=True)
  return socket.create_server(('', port))


def _coordinate(coordinator: str, num_processes: int, timeout_s: float) -> None:
  """Process 0's side of the roll call: waits for processes 1..N-1 to report, then answers each 'ok' or the error."""
  port = int(coordinator.rpartition(':')[2])
  try:
    server = _listen(port)
  except OSError as e:
    raise DistributedSetupError(
      f'Cannot listen on port {port} of --coordinator={coordinator} ({e.strerror}): another process was probably '
      f'started with --process-id=0 too (each process needs its own id, 0..{num_processes - 1}), or another '
      'program uses the port.',
      exit_code=2,
    ) from e
  peers: dict[int, tuple[socket.socket, str]] = {}
  deadline = time.monotonic() + timeout_s
  error, exit_code = '', 2  # a mistake in the flags, unless a process is missing
  with server:
    while len(peers) < num_processes - 1 and not error:
      server.settimeout(max(deadline - time.monotonic(), 0.01))
      try:
        conn, address = server.accept()
      except TimeoutError:
        missing = sorted(set(range(1, num_processes)) - set(peers))
        error = (
          f'process{"es" if len(missing) > 1 else ""} {", ".join(map(str, missing))} of {num_processes} did not '
          f'report to the coordinator {coordinator} within {timeout_s:g} s: start '
          f'{"them" if len(missing) > 1 else "it"} (same --coordinator and --num-processes), or raise '
          '--distributed-timeout.'
        )
        exit_code = 1
        break
      conn.settimeout(5.0)
      try:
        _, peer_id, peer_count = conn.makefile('r').readline().split()
      except (OSError, ValueError):
        conn.close()  # not one of ours
        continue
      peer_id, peer_count, host = int(peer_id), int(peer_count), address[0].removeprefix('::ffff:')
      if peer_count != num_processes:
        error = (
          f'process {peer_id} ({host}) says --num-processes={peer_count}, process 0 says {num_processes}: give '
          'every process the same value.'
        )
      elif peer_id in peers:
        error = (
          f'two processes say --process-id={peer_id} ({peers[peer_id][1]} and {host}): give each process its own '
          f'id, 0..{num_processes - 1}.'
        )
      peers.setdefault(peer_id, (conn, host))
      if peers[peer_id][0] is not conn:
        _reply(conn, error, exit_code)
    for conn, _ in peers.values():
      _reply(conn, error, exit_code)
  if error:
    raise DistributedSetupError(error, exit_code)


def _reply(conn: socket.socket, error: str, exit_code: int) -> None:
  """Sends process 0's answer: 'ok', or 'EXIT_CODE MESSAGE'."""
  with contextlib.suppress(OSError), conn:
    conn.sendall((f'{exit_code} {error}' if error else 'ok').encode() + b'\n')


def _report(coordinator: str, num_processes: int, process_id: int, timeout_s: float) -> None:
  """Process 1..N-1's side of the roll call: reports to process 0 and waits for its answer."""
  host, _, port = coordinator.rpartition(':')
  deadline = time.monotonic() + timeout_s
  while True:
    try:
      conn = socket.create_connection((host.strip('[]'), int(port)), timeout=2.0)
      break
    except OSError as e:
      if time.monotonic() > deadline:
        raise DistributedSetupError(
          f'process 0 (the coordinator, --coordinator={coordinator}) did not answer within {timeout_s:g} s '
          f'({e.strerror or e}): start it, check the address and that the port is reachable, or raise '
          '--distributed-timeout. (Two processes given the same --process-id, neither of them 0, look like this too.)'
        ) from e
      time.sleep(0.2)
  with conn:
    conn.sendall(f'esrgan_jax {process_id} {num_processes}\n'.encode())
    conn.settimeout(timeout_s + 10.0)  # process 0 answers once everyone has reported, or at its own deadline
    try:
      answer = conn.makefile('r').readline().strip()
    except OSError:
      answer = ''
  if answer != 'ok':
    exit_code, _, error = answer.partition(' ')
    raise DistributedSetupError(
      error or f'process 0 ({coordinator}) stopped without an answer; its log says why.',
      int(exit_code) if exit_code.isdigit() else 1,
    )


def initialize(
  coordinator: str | None, num_processes: int | None, process_id: int | None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> None:
  """Checks the flags, holds the roll call (when they are given) and calls `jax.distributed.initialize` with
  `timeout_s`; raises DistributedSetupError with a one-line message. CPU collectives go over gloo."""
  check_flags(coordinator, num_processes, process_id)
  if timeout_s <= 0:
    raise DistributedSetupError(f'--distributed-timeout must be > 0 seconds, got {timeout_s}.', exit_code=2)
  if coordinator is not None and num_processes > 1:
    if process_id == 0:
      _coordinate(coordinator, num_processes, timeout_s)
    else:
      _report(coordinator, num_processes, process_id, timeout_s)
  import jax  # pylint: disable=g-import-not-at-top (flags are checked without loading JAX)

  jax.config.update('jax_cpu_collectives_implementation', 'gloo')  # CPU collectives across processes
  jax.distributed.initialize(coordinator, num_processes, process_id, initialization_timeout=max(int(timeout_s), 1))
  if jax.process_count() > 1:
    global _channel
    _channel = _open_channel(coordinator)
    watcher = threading.Thread(target=_watch, args=(_channel,), daemon=True)
    watcher.start()
    atexit.register(_stop_watching, watcher)


_channel: failure_channel.Hub | failure_channel.Spoke | None = None  # set by `initialize` for several processes
_failing = threading.Event()  # set when this process has failed and is reporting it
_stopping = threading.Event()  # set at a normal exit: the watcher stops


def _open_channel(coordinator: str | None) -> failure_channel.Hub | failure_channel.Spoke:
  """Process 0 opens the failure channel's hub and sends its address to the others (a broadcast over the
  processes' devices), which connect to it. The address: the --coordinator host, or process 0's host name's
  address when JAX detected the cluster."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top

  hub = None
  address = np.zeros(_ADDRESS_BYTES, np.uint8)
  if jax.process_index() == 0:
    hub = failure_channel.Hub(_listen(0))
    host = coordinator.rpartition(':')[0].strip('[]') if coordinator else socket.gethostbyname(socket.gethostname())
    encoded = f'{host} {hub.port}'.encode()
    address[: len(encoded)] = np.frombuffer(encoded, np.uint8)
  host, port = bytes(multihost_utils.broadcast_one_to_all(address)).rstrip(b'\0').decode().split()
  return hub or failure_channel.Spoke(host, int(port))


def _watch(channel: failure_channel.Hub | failure_channel.Spoke) -> None:
  """Daemon thread: when another process reports a failure, prints it and exits this process (status 1)."""
  while not _stopping.is_set():
    message = channel.failure(_POLL_S)
    if message is not None:
      break
  else:
    return
  if _failing.wait(_GRACE_S):
    return  # this process failed too and reports its own error
  print(f'error: {message}', file=sys.stderr, flush=True)
  os._exit(1)  # skip jax.distributed's shutdown barrier, which would wait for the processes that are gone


def _stop_watching(watcher: threading.Thread) -> None:
  _stopping.set()
  watcher.join(timeout=5.0)


def _describe(e: BaseException) -> str:
  if isinstance(e, SystemExit):
    return f'exited with status {e.code}; its log says why'
  return f'{type(e).__name__}: {" ".join(str(e).split())}'


def fail_together(main: Callable[..., Any]) -> Callable[..., Any]:
  """`main` wrapped so that, once `initialize` has connected several processes, a failure on one (an exception or a
  non-zero SystemExit) is reported to all: this process prints its traceback and `error: process I: ...`, the others
  print `error: process I failed: ...` within about a second, and all exit non-zero. A process whose own exception
  follows another's reported failure (a collective broken by the peer that left) prints that failure instead."""

  @functools.wraps(main)
  def wrapped(*args, **kwargs):
    try:
      return main(*args, **kwargs)
    except BaseException as e:
      channel = _channel
      if channel is None or (isinstance(e, SystemExit) and e.code in (None, 0)):
        raise
      _failing.set()
      import jax  # pylint: disable=g-import-not-at-top

      index, count = jax.process_index(), jax.process_count()
      if not isinstance(e, SystemExit):
        traceback.print_exc()
      # an exception (not a deliberate exit, whose message is printed) after a peer's failure, e.g. a broken collective
      earlier = None if isinstance(e, SystemExit) else channel.failure(_GRACE_S)
      if earlier is not None:
        print(f'error: {earlier}', file=sys.stderr, flush=True)
      elif not isinstance(e, SystemExit):
        print(f'error: process {index}: {_describe(e)}', file=sys.stderr, flush=True)
      channel.report(f'process {index} failed: {_describe(e)}')  # only the first failure is kept
      if isinstance(channel, failure_channel.Hub):  # the others' messages go through process 0: let them arrive
        channel.wait_for_peers_to_leave(count - 1, _ACK_WAIT_S)
      sys.stdout.flush()
      sys.stderr.flush()
      os._exit(e.code if isinstance(e, SystemExit) and isinstance(e.code, int) else 1)

  return wrapped
