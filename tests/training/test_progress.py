"""esrgan_jax.training.progress: the time left, printed next to the step lines."""

from esrgan_jax.training import progress


def test_time_left_from_the_rate_since_the_first_step():
  times = iter([100.0, 110.0, 120.0, 5000.0])
  time_left = progress.TimeLeft(num_steps=1000, clock=lambda: next(times))
  assert time_left(1) == ''  # the first step (after compilation) starts the clock
  assert time_left(11) == 'ETA 16m29s'  # 1 step/s, 989 steps left
  assert time_left(21) == 'ETA 16m19s'
  assert time_left(31) == 'ETA 43h57m'  # 969 steps at 30 steps per 4900 s
