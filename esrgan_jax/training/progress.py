"""The estimated time left of a stage, printed next to the step lines."""

import time
from collections.abc import Callable


class TimeLeft:
  """`time_left(step)` -> 'ETA 12m30s' from the mean rate since the first call (so compilation is not counted), or
  '' on the first call. `num_steps` is the stage's last step."""

  def __init__(self, num_steps: int, clock: Callable[[], float] = time.monotonic):
    self.num_steps, self.clock = num_steps, clock
    self.start: tuple[int, float] | None = None

  def __call__(self, step: int) -> str:
    now = self.clock()
    if self.start is None:
      self.start = (step, now)
    first_step, first_time = self.start
    if step <= first_step or now <= first_time:
      return ''
    seconds = round((self.num_steps - step) * (now - first_time) / (step - first_step))
    hours, rest = divmod(seconds, 3600)
    return f'ETA {hours}h{rest // 60:02d}m' if hours else f'ETA {rest // 60}m{rest % 60:02d}s'
