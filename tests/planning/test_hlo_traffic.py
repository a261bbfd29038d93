"""HBM bytes of an optimised HLO module with its loop bodies counted once per iteration (a fori_loop on the CPU)."""

import jax
import jax.numpy as jnp
import pytest

from esrgan_jax.planning import hlo_traffic

SIZE = 4096  # float32 elements the loop body reads and writes each iteration


def looped(trips: int) -> jax.stages.Compiled:
  body = lambda i, x: jnp.sin(x) * 1.5 + i
  return jax.jit(lambda x: jax.lax.fori_loop(0, trips, body, x)).lower(jnp.zeros(SIZE)).compile()


def test_loop_body_counts_once_per_iteration():
  compiled = {trips: looped(trips) for trips in (3, 6, 9)}
  traffic = {trips: hlo_traffic.bytes_accessed(c.as_text()) for trips, c in compiled.items()}
  per_three = traffic[6] - traffic[3]
  assert traffic[9] - traffic[6] == pytest.approx(per_three)  # linear in the trip count
  assert per_three >= 3 * 2 * 4 * SIZE  # each iteration reads and writes the array at least once
  # XLA's own analysis counts the body once: the same bytes whatever the trip count, below this count
  assert compiled[3].cost_analysis()['bytes accessed'] == compiled[9].cost_analysis()['bytes accessed']
  assert traffic[9] > compiled[9].cost_analysis()['bytes accessed'] + 2 * per_three
