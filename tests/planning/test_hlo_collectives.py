"""Collectives of an optimised HLO module, counted with the trip counts of the loops around them (annotated, or
read off the loop condition as libtpu leaves it)."""

from esrgan_jax.planning import hlo_collectives

HLO = """HloModule jit_step, entry_computation_layout={(f32[8]{0})->f32[8]{0}}

%add (x: f32[], y: f32[]) -> f32[] {
  %x = f32[] parameter(0)
  %y = f32[] parameter(1)
  ROOT %sum = f32[] add(f32[] %x, f32[] %y)
}

%body (p: (s32[], f32[64,3]{1,0:T(8,128)})) -> (s32[], f32[64,3]{1,0:T(8,128)}) {
  %p = (s32[], f32[64,3]{1,0}) parameter(0)
  %g = f32[64,3]{1,0:T(8,128)} get-tuple-element(%p), index=1
  %ar = f32[64,3]{1,0:T(8,128)} all-reduce(%g), channel_id=2, to_apply=%add, metadata={op_name="jit(step)/body/grad"}
  ROOT %t = (s32[], f32[64,3]{1,0}) tuple(%i, %ar)
}

%cond (p: (s32[], f32[64,3]{1,0})) -> pred[] {
  ROOT %c = pred[] constant(true)
}

%tpu_cond (p: (s32[], f32[64,3]{1,0})) -> pred[] {
  %bound = s32[]{:T(128)} constant(5)
  %i = s32[]{:T(128)} get-tuple-element(%p), index=0
  ROOT %lt = pred[]{:T(512)} compare(%i, %bound), direction=LT
}

%tpu_body (p: (s32[], f32[64,3]{1,0})) -> (s32[], f32[64,3]{1,0}) {
  %p = (s32[], f32[64,3]{1,0}) parameter(0)
  %g = f32[2,3]{1,0} get-tuple-element(%p), index=1
  %ar = f32[2,3]{1,0} all-reduce(%g), channel_id=4, to_apply=%add, metadata={op_name="jit(step)/tpu_body/grad"}
  ROOT %t = (s32[], f32[64,3]{1,0}) tuple(%i, %ar)
}

ENTRY %main (a: f32[8], b: bf16[16,4,4,3]) -> f32[8] {
  %a = f32[8]{0} parameter(0)
  %b = bf16[16,4,4,3]{3,2,1,0} parameter(1)
  %ars = (f32[8]{0:T(128)S(1)}, f32[4]{0}) all-reduce-start(%a, %a), channel_id=1, to_apply=%add
  %ard = (f32[8]{0}, f32[4]{0}) all-reduce-done(%ars)
  %ag = bf16[64,4,4,3]{3,2,1,0} all-gather(%b), channel_id=3, dimensions={0}, metadata={op_name="jit(step)/gather"}
  %ags = (bf16[16,4,4,3]{3,2,1,0}, bf16[64,4,4,3]{3,2,1,0}) all-gather-start(%b), metadata={op_name="ag"}
  %agd = bf16[64,4,4,3]{3,2,1,0} all-gather-done(%ags), metadata={op_name="ag"}
  %w = (s32[], f32[64,3]{1,0}) while(%init), condition=%cond, body=%body, backend_config={"known_trip_count":{"n":"23"}}
  %w2 = (s32[], f32[64,3]{1,0}) while(%init), condition=%tpu_cond, body=%tpu_body, metadata={op_name="while"}
  ROOT %r = f32[8]{0} add(%a, %a)
}
"""


def test_counts_async_pairs_once_and_loop_bodies_per_iteration():
  found = {c.op + ':' + c.name: c for c in hlo_collectives.collectives(HLO)}
  assert set(found) == {
    'all-reduce:',
    'all-gather:jit(step)/gather',
    'all-gather:ag',
    'all-reduce:jit(step)/body/grad',
    'all-reduce:jit(step)/tpu_body/grad',
  }
  assert found['all-reduce:'].bytes == (8 + 4) * 4 and found['all-reduce:'].count == 1
  assert found['all-gather:jit(step)/gather'].shapes == (('bf16', (64, 4, 4, 3)),)
  assert found['all-gather:ag'].shapes == (('bf16', (64, 4, 4, 3)),)  # the async start's operand is not counted
  assert found['all-reduce:jit(step)/body/grad'].count == 23
  # libtpu's loops carry no known_trip_count: the bound of the condition's `i < N`
  assert found['all-reduce:jit(step)/tpu_body/grad'].count == 5


def test_bytes_by_op_sums_executions():
  table = hlo_collectives.bytes_by_op(hlo_collectives.collectives(HLO))
  assert table['all-reduce'] == {'ops': 1 + 23 + 5, 'bytes': 48 + 23 * 64 * 3 * 4 + 5 * 2 * 3 * 4}
  assert table['all-gather'] == {'ops': 2, 'bytes': 2 * 64 * 4 * 4 * 3 * 2}
