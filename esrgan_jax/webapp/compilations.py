"""Counting XLA compilations in this process, so the app can show (and tests can check) that moving α compiles
nothing: every backend compilation JAX runs records one `/jax/core/compile/backend_compile_duration` event."""

import threading

import jax

COMPILE_EVENT = '/jax/core/compile/backend_compile_duration'


class CompileCounter:
  """`count` is the number of XLA compilations since `start()` (JAX's persistent-cache hits included: they skip
  only the backend work, not the event)."""

  def __init__(self):
    self._count = 0
    self._lock = threading.Lock()
    self._started = False

  def _on_event(self, event: str, duration_secs: float, **_) -> None:
    del duration_secs
    if event == COMPILE_EVENT:
      with self._lock:
        self._count += 1

  def start(self) -> 'CompileCounter':
    """Registers the listener (once); returns self."""
    if not self._started:
      jax.monitoring.register_event_duration_secs_listener(self._on_event)
      self._started = True
    return self

  def stop(self) -> None:
    """Unregisters the listener."""
    if self._started:
      jax.monitoring.unregister_event_duration_listener(self._on_event)
      self._started = False

  @property
  def count(self) -> int:
    with self._lock:
      return self._count
