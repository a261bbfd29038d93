"""A side channel over which the processes of a distributed run tell each other the first failure.

Process 0 runs a `Hub` (a TCP server on a free port); every other process holds one connection to it (`Spoke`). A
message reported on any process reaches every process within a round trip, however the collectives stand (a process
blocked in an all-reduce whose peer has gone is exactly the case this is for). Only the first failure is kept and
forwarded. Lines on the wire: `FAIL <one-line message>`.
"""

import contextlib
import socket
import threading
import time

_CONNECT_TIMEOUT_S = 30.0


class _Channel:
  """The first failure reported anywhere: `report` (in Hub and Spoke) sends one, `failure` waits for one."""

  def __init__(self):
    self._first: str | None = None
    self._arrived = threading.Event()
    self._lock = threading.Lock()

  def _keep(self, message: str) -> bool:
    """Stores `message` if it is the first; True if it was."""
    with self._lock:
      if self._first is not None:
        return False
      self._first = message
    self._arrived.set()
    return True

  def failure(self, wait_s: float | None = None) -> str | None:
    """The first failure reported by any process, waiting up to `wait_s` seconds (None: forever) for one."""
    self._arrived.wait(wait_s)
    return self._first


def _lines(conn: socket.socket):
  """The text lines read from `conn` until it closes."""
  with contextlib.suppress(OSError), conn.makefile('r', encoding='utf-8') as f:
    yield from (line.rstrip('\n') for line in f)


def _send(conn: socket.socket, message: str) -> None:
  with contextlib.suppress(OSError):
    conn.sendall(f'FAIL {" ".join(message.split())}\n'.encode())


class Hub(_Channel):
  """Process 0's end: accepts the other processes on `server` (a listening socket), forwards the first failure to
  every one of them."""

  def __init__(self, server: socket.socket):
    super().__init__()
    self._server = server
    self.port: int = server.getsockname()[1]
    self._peers: list[socket.socket] = []
    self._closed: list[socket.socket] = []
    threading.Thread(target=self._accept, daemon=True).start()

  def _accept(self) -> None:
    while True:
      try:
        conn, _ = self._server.accept()
      except OSError:
        return
      with self._lock:
        self._peers.append(conn)
        first = self._first
      if first is not None:  # failed before this process connected
        _send(conn, first)
      threading.Thread(target=self._read, args=(conn,), daemon=True).start()

  def _read(self, conn: socket.socket) -> None:
    for line in _lines(conn):
      if line.startswith('FAIL '):
        self.report(line.removeprefix('FAIL '))
    with self._lock:
      self._closed.append(conn)

  def report(self, message: str) -> None:
    if self._keep(message):
      with self._lock:
        peers = list(self._peers)
      for conn in peers:
        _send(conn, message)

  def wait_for_peers_to_leave(self, count: int, wait_s: float) -> None:
    """Waits up to `wait_s` until `count` connected processes have closed their connections (exited)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
      with self._lock:
        if len(self._closed) >= count:
          return
      time.sleep(0.05)


class Spoke(_Channel):
  """The end of processes 1..N-1: one connection to process 0's hub."""

  def __init__(self, host: str, port: int):
    super().__init__()
    self._conn = socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S)
    self._conn.settimeout(None)
    threading.Thread(target=self._read, daemon=True).start()

  def _read(self) -> None:
    for line in _lines(self._conn):
      if line.startswith('FAIL '):
        self._keep(line.removeprefix('FAIL '))

  def report(self, message: str) -> None:
    if self._keep(message):
      _send(self._conn, message)
