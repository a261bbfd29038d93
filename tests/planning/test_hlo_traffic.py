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


def conv(x: jax.Array, w: jax.Array) -> jax.Array:
  return jax.lax.conv_general_dilated(x, w, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


LOOP_FREE = {  # programs without loops, where XLA's own analysis counts every instruction once
  'convolution gradient': (
    jax.grad(lambda w, x: jnp.sum(jnp.tanh(conv(x, w)) ** 2)),
    (jnp.ones((3, 3, 16, 16)), jnp.ones((4, 32, 32, 16))),
  ),
  'dynamic slice': (lambda b, i: jnp.sin(jax.lax.dynamic_slice_in_dim(b, i, 1, 0)), (jnp.ones((23, 64, 64)), 3)),
  'dynamic update': (
    lambda b, i, u: jax.lax.dynamic_update_slice_in_dim(b, jnp.sin(u), i, 0),
    (jnp.ones((23, 64, 64)), 3, jnp.ones((1, 64, 64))),
  ),
  'slices': (lambda b: jnp.sin(b[2:5]) * b[7:10], (jnp.ones((23, 64, 64)),)),
  'reduction': (lambda b: jnp.sum(b, axis=(1, 2)), (jnp.ones((23, 64, 64)),)),
  'matmul': (lambda a, b: jnp.tanh(a @ b), (jnp.ones((128, 256)), jnp.ones((256, 64)))),
  'concatenate': (
    lambda a, b: jnp.concatenate([jnp.sin(a), b], -1),
    (jnp.ones((4, 8, 8, 16)), jnp.ones((4, 8, 8, 16))),
  ),
}


@pytest.mark.parametrize('name', LOOP_FREE)
def test_loop_free_programs_count_what_xla_counts(name):
  fn, args = LOOP_FREE[name]
  compiled = jax.jit(fn).lower(*args).compile()
  assert hlo_traffic.bytes_accessed(compiled.as_text()) == compiled.cost_analysis()['bytes accessed']


SLICED_THROUGH_BITCAST = """HloModule m

%fused (p0: s32[], p1: f32[23,64]) -> f32[1,64] {
  %p1 = f32[23,64]{1,0} parameter(1)
  %b = f32[23,1,64]{2,1,0} bitcast(%p1)
  %p0 = s32[] parameter(0)
  %z = s32[] constant(0)
  %s = f32[1,1,64]{2,1,0} dynamic-slice(%b, %p0, %z, %z), dynamic_slice_sizes={1,1,64}
  ROOT %r = f32[1,64]{1,0} bitcast(%s)
}

ENTRY %main (i: s32[], w: f32[23,64]) -> f32[1,64] {
  %i = s32[] parameter(0)
  %w = f32[23,64]{1,0} parameter(1)
  ROOT %f = f32[1,64]{1,0} fusion(%i, %w), kind=kLoop, calls=%fused
}
"""


def test_a_fusion_reads_only_the_slice_it_takes_of_an_operand():
  """A scanned block's weights: one slice of the stacked array per iteration (4 bytes of index, 256 read, 256
  written), not the 23 blocks' 5,888 bytes, also where a bitcast stands between the parameter and the slice."""
  assert hlo_traffic.bytes_accessed(SLICED_THROUGH_BITCAST) == 4 + 256 + 256
