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


CUSTOM_CALL_IN_LOOP = """HloModule m

%cond (p: (s32[], f32[1000])) -> pred[] {
  %p = (s32[], f32[1000]{0}) parameter(0)
  %i = s32[] get-tuple-element(%p), index=0
  %n = s32[] constant(4)
  ROOT %lt = pred[] compare(%i, %n), direction=LT
}

%body (p: (s32[], f32[1000])) -> (s32[], f32[1000]) {
  %p = (s32[], f32[1000]{0}) parameter(0)
  %i = s32[] get-tuple-element(%p), index=0
  %x = f32[1000]{0} get-tuple-element(%p), index=1
  %conv = (f32[1000]{0}, u8[4096]{0}) custom-call(%x, %x), custom_call_target="__cudnn$convForward"
  %y = f32[1000]{0} get-tuple-element(%conv), index=0
  %one = s32[] constant(1)
  %j = s32[] add(%i, %one)
  ROOT %t = (s32[], f32[1000]{0}) tuple(%j, %y)
}

ENTRY %main (a: f32[1000]) -> f32[1000] {
  %a = f32[1000]{0} parameter(0)
  %zero = s32[] constant(0)
  %init = (s32[], f32[1000]{0}) tuple(%zero, %a)
  %w = (s32[], f32[1000]{0}) while(%init), condition=%cond, body=%body
  ROOT %r = f32[1000]{0} get-tuple-element(%w), index=1
}
"""


def test_custom_calls_count_their_operands_and_results():
  """XLA's analysis counts a custom call (a cuDNN convolution) as -1 byte: here two f32[1000] operands and one
  f32[1000] result (the u8 workspace left out) per iteration, 4 iterations, plus the loop counter's few bytes."""
  convolutions = 4 * 3 * 4000
  assert convolutions <= hlo_traffic.bytes_accessed(CUSTOM_CALL_IN_LOOP) <= convolutions + 4 * 64
