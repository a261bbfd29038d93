"""Device prefetch for the train loop: the next batches are already on their way to the devices while a step runs.

`jax.device_put` and `jax.make_array_from_process_local_data` return at once and copy in the background, so keeping
`size` transferred batches queued ahead of the step that consumes them hides the host-to-device copy (and the host's
wait for the input pipeline) behind the previous step's compute.
"""

import collections
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def prefetch_to_device(batches: Iterable[Any], transfer: Callable[[Any], Any], size: int = 2) -> Iterator[Any]:
  """Yields `transfer(batch)` for each of `batches` in order, with up to `size` transfers started ahead.

  Args:
    batches: host batches (e.g. dicts of numpy arrays of this process's slice).
    transfer: starts a batch's copy to the devices and returns the device arrays (e.g. `steps.global_batch` with the
      data sharding); it must not wait for the copy to finish.
    size: transferred batches queued ahead (2 = double buffering); at least 1.
  """
  if size < 1:
    raise ValueError(f'prefetch size must be >= 1, got {size}.')
  batches = iter(batches)
  queue = collections.deque(transfer(b) for b in itertools.islice(batches, size))
  while queue:
    yield queue.popleft()
    queue.extend(transfer(b) for b in itertools.islice(batches, 1))
