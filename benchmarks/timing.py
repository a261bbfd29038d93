"""Shared by the benchmarks: interleaved timing, the CPU load of other processes, JAX compile counting, rows.

Benchmarks run as scripts (`python benchmarks/X.py`), so they import this as `timing`. A row is a dict:
{'benchmark', 'case', 'impl', 'median_s', 'min_s', 'rounds', 'per_s' (images or steps per second), 'gflops',
'speedup' ({baseline impl: baseline median / this median}), 'compile_s', 'recompiles', 'other_load', 'note'}.
"""

import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
_COMPILE_EVENTS = (
  '/jax/core/compile/jaxpr_trace_duration',
  '/jax/core/compile/jaxpr_to_mlir_module_duration',
  '/jax/core/compile/backend_compile_duration',
)


def import_torch_reference():
  """reference/torch_archs.py (TorchRRDBNet, TorchVGGStyleDiscriminator, torch_vgg19_features), with torch threads =
  the cores this process may run on; torch is a benchmark dependency only (`pip install -e .[bench]`)."""
  import torch  # pylint: disable=g-import-not-at-top

  torch.set_num_threads(len(os.sched_getaffinity(0)))
  sys.path.insert(0, str(REPO / 'reference'))
  import torch_archs  # pylint: disable=g-import-not-at-top

  return torch_archs


def interleave(fns: Mapping[str, Callable[[], Any]], rounds: int, warmup: int = 1) -> dict[str, list[float]]:
  """Seconds per call of each fn (each must block until its result is ready), called in turn round by round.

  The order flips every round, so a slow spell on the machine hits all fns alike.
  """
  for fn in fns.values():
    for _ in range(warmup):
      fn()
  times = {name: [] for name in fns}
  for r in range(rounds):
    for name in list(fns) if r % 2 == 0 else list(fns)[::-1]:
      start = time.perf_counter()
      fns[name]()
      times[name].append(time.perf_counter() - start)
  return times


class OtherLoad:
  """Context manager: `.cores` = CPU cores that other processes kept busy on average while it was open."""

  def __enter__(self) -> 'OtherLoad':
    import psutil  # pylint: disable=g-import-not-at-top  (not on every GPU image; only the CPU benchmarks need it)

    self._own, self._start = psutil.Process(), time.perf_counter()
    self._busy, self._own_cpu = self._system_busy(), self._own_seconds()
    self.cores = float('nan')
    return self

  def __exit__(self, *exc) -> None:
    wall = time.perf_counter() - self._start
    other = (self._system_busy() - self._busy) - (self._own_seconds() - self._own_cpu)
    self.cores = max(0.0, other / wall)

  @staticmethod
  def _system_busy() -> float:
    import psutil  # pylint: disable=g-import-not-at-top

    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, 'irq', 0) + getattr(t, 'softirq', 0)

  def _own_seconds(self) -> float:
    t = self._own.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


class CompileCounter:
  """Context manager counting JAX compilations (`.count`) and their tracing + lowering + XLA seconds (`.seconds`)."""

  def __enter__(self) -> 'CompileCounter':
    import jax  # pylint: disable=g-import-not-at-top

    self.count, self.seconds = 0, 0.0

    def listener(event: str, duration: float, **kwargs) -> None:
      del kwargs
      if event in _COMPILE_EVENTS:
        self.seconds += duration
        self.count += event == _COMPILE_EVENTS[-1]

    self._listener = listener
    jax.monitoring.register_event_duration_secs_listener(listener)
    return self

  def __exit__(self, *exc) -> None:
    import jax  # pylint: disable=g-import-not-at-top

    jax.monitoring.unregister_event_duration_listener(self._listener)


def row(
  benchmark: str,
  case: str,
  impl: str,
  times: list[float],
  *,
  work: float = 1.0,
  flops: float | None = None,
  baselines: Mapping[str, list[float]] | None = None,
  **extra: Any,
) -> dict[str, Any]:
  """A result row from per-call `times`; `work` items (images, steps) and `flops` per call give the rates."""
  median = statistics.median(times)
  return dict(
    benchmark=benchmark,
    case=case,
    impl=impl,
    median_s=median,
    min_s=min(times),
    rounds=len(times),
    per_s=work / median,
    gflops=flops / median / 1e9 if flops else None,
    speedup={name: statistics.median(base) / median for name, base in (baselines or {}).items()},
    **extra,
  )


def print_rows(rows: list[dict[str, Any]]) -> None:
  for r in rows:
    speedup = ' '.join(f'x{v:.2f} vs {k}' for k, v in r['speedup'].items())
    gflops = f'{r["gflops"]:7.1f} GFLOP/s' if r.get('gflops') else ''
    print(
      f'{r["case"]:>14} {r["impl"]:>22}: median {r["median_s"]:8.3f} s (min {r["min_s"]:.3f}, n={r["rounds"]}) '
      f'{r["per_s"]:8.3f}/s {gflops} {speedup}',
      flush=True,
    )


def write_rows(path: str | None, rows: list[dict[str, Any]]) -> None:
  if path:
    Path(path).write_text(json.dumps(rows, indent=1))
