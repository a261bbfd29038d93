"""The failure channel on loopback, in threads: the first failure reaches every process, later ones are dropped."""

import socket
import time

from esrgan_jax.training import failure_channel


def connect(spokes: int) -> tuple[failure_channel.Hub, list[failure_channel.Spoke]]:
  hub = failure_channel.Hub(socket.create_server(('127.0.0.1', 0)))
  return hub, [failure_channel.Spoke('127.0.0.1', hub.port) for _ in range(spokes)]


def test_a_spokes_failure_reaches_the_hub_and_the_other_spokes():
  hub, (first, second) = connect(2)
  assert hub.failure(0.1) is None
  first.report('process 1 failed: ValueError: x')
  assert [c.failure(5.0) for c in (hub, first, second)] == ['process 1 failed: ValueError: x'] * 3


def test_only_the_first_failure_is_kept():
  hub, (first, second) = connect(2)
  hub.report('process 0 failed: A')
  assert second.failure(5.0) == 'process 0 failed: A'
  second.report('process 2 failed: B')
  time.sleep(0.2)
  assert [c.failure(0) for c in (hub, first, second)] == ['process 0 failed: A'] * 3


def test_a_process_connecting_after_the_failure_is_told():
  hub, _ = connect(0)
  hub.report('process 0 failed: early')
  (late,) = [failure_channel.Spoke('127.0.0.1', hub.port)]
  assert late.failure(5.0) == 'process 0 failed: early'


def test_messages_are_one_line():
  hub, (spoke,) = connect(1)
  spoke.report('process 1 failed: ValueError: two\nlines')
  assert hub.failure(5.0) == 'process 1 failed: ValueError: two lines'


def test_the_hub_sees_peers_leave():
  hub, _ = connect(0)
  peers = [socket.create_connection(('127.0.0.1', hub.port)) for _ in range(2)]  # processes that then exit
  hub.wait_for_peers_to_leave(2, 0.5)
  assert len(hub._closed) == 0
  for peer in peers:
    peer.close()
  start = time.monotonic()
  hub.wait_for_peers_to_leave(2, 5.0)
  assert time.monotonic() - start < 4.0
