"""The train step `main` runs, compiled ahead of time for a device set (a TPU pod slice described by libtpu), and
what the compiled program says: per-chip memory, FLOPs, collectives, a roofline step time, and the checks that data
parallelism is real (nothing batch-sized replicated or gathered) and the donated state is aliased.

FLOPs come from XLA's cost analysis of the step lowered with the RRDB blocks unrolled (`config.scan_blocks=False`):
the analysis counts a while loop's body once, so a scanned program would under-count by the block count.
"""

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import ml_collections

from esrgan_jax.planning import hlo_collectives, hlo_traffic
from esrgan_jax.planning.chips import Chip
from esrgan_jax.training import step_builder, steps

GRADIENT_SLACK = 1.25  # collectives may move up to this x the gradient bytes (+ SMALL_COLLECTIVE_BYTES): BN moments,
SMALL_COLLECTIVE_BYTES = 2**20  # losses, RaGAN means; anything batch-sized is far larger


@dataclasses.dataclass
class CompiledStep:
  compiled: Any  # jax.stages.Compiled
  hlo_text: str  # the optimised HLO as the compiler dumped it (`compile_with_hlo`)
  seconds: float  # lowering + compilation
  global_batch: int
  gradient_bytes: int  # G's params (+ D's in the GAN stage), float32: what the gradient all-reduces move


def tree_bytes(tree: Any) -> int:
  return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree))


def compile_step(
  config: ml_collections.ConfigDict, stage_name: str, devices: list, per_chip_batch: int
) -> CompiledStep:
  """`step_builder.build_train_step` of the stage over a 1-D mesh of `devices`, compiled for `per_chip_batch`
  examples per device (abstract arguments: nothing allocated, nothing read)."""
  mesh = steps.create_mesh(devices)
  start = time.monotonic()
  step = step_builder.build_train_step(
    config, stage_name, mesh, extra_args=step_builder.abstract_extra_args(config, stage_name, mesh)
  )
  global_batch = per_chip_batch * len(devices)
  state, batch = step_builder.abstract_arguments(config, stage_name, step, global_batch)
  compiled, hlo_text = compile_with_hlo(step.lower(state, batch))
  gradient_bytes = tree_bytes(state.g_params) + (tree_bytes(state.d_params) if stage_name == 'gan' else 0)
  return CompiledStep(compiled, hlo_text, time.monotonic() - start, global_batch, gradient_bytes)


def compile_with_hlo(lowered: Any) -> tuple[Any, str]:
  """`lowered.compile()` and the optimised HLO text the compiler itself dumped. Not `Compiled.as_text()`: that
  re-reads the compiler's HLO proto with jaxlib's XLA, which rejects newer compilers' protos (libtpu 0.0.52 under
  jaxlib 0.10.2: "async-update instruction should have 1 operands but sees 3" for Real-ESRGAN on v5p and v6e)."""
  with tempfile.TemporaryDirectory(prefix='esrgan_jax_hlo_') as dump:
    compiled = lowered.compile({'xla_dump_to': dump, 'xla_dump_hlo_as_text': True})
    texts = sorted(Path(dump).glob('*after_optimizations.txt'))  # TPU: .after_optimizations.txt, CPU: .cpu_after_...
    if len(texts) != 1:
      raise RuntimeError(f'expected one optimised HLO dump from the compiler, found {[t.name for t in texts]}')
    return compiled, texts[0].read_text()


def unrolled_flops(config: ml_collections.ConfigDict, stage_name: str, devices: list, per_chip_batch: int) -> float:
  """FLOPs per device of one step: XLA's cost analysis of the step lowered (not compiled) with the RRDB blocks
  unrolled, divided by the devices. The lowered module computes the global batch whatever the mesh, so it is lowered
  for one CPU device, whose backend analyses lowered programs (`jax.stages.Lowered.cost_analysis`; TPU plugins
  analyse only compiled ones)."""
  unrolled = ml_collections.ConfigDict(config.to_dict())
  unrolled.scan_blocks = False
  mesh = steps.create_mesh(jax.devices('cpu')[:1])
  step = step_builder.build_train_step(
    unrolled, stage_name, mesh, extra_args=step_builder.abstract_extra_args(unrolled, stage_name, mesh)
  )
  state, batch = step_builder.abstract_arguments(unrolled, stage_name, step, per_chip_batch * len(devices))
  return step.lower(state, batch).cost_analysis()['flops'] / len(devices)


def hbm_bytes_accessed(cost: dict[str, float] | None, flops: float, hlo_text: str) -> float:
  """HBM bytes per step per device. From the compiled program's cost analysis `cost`, which counts a loop's body
  once: its 'bytes accessed' times (unrolled `flops` / its 'flops'). Without one (`cost` None: the CUDA plugin's
  compile-only executables) from the optimised HLO `hlo_text`, each loop body counted per iteration
  (`hlo_traffic.bytes_accessed`)."""
  if cost is None:
    return hlo_traffic.bytes_accessed(hlo_text)
  loop_factor = max(1.0, flops / cost['flops']) if cost.get('flops') else 1.0
  return cost.get('bytes accessed', 0.0) * loop_factor


def memory(compiled: Any) -> dict[str, int]:
  """Per-device bytes: arguments, outputs, temporaries, aliased (outputs in donated inputs' buffers), and the total
  the program needs at once (arguments + outputs - aliased + temporaries)."""
  m = compiled.memory_analysis()
  out = {
    'argument': m.argument_size_in_bytes,
    'output': m.output_size_in_bytes,
    'temp': m.temp_size_in_bytes,
    'alias': m.alias_size_in_bytes,
  }
  out['total'] = out['argument'] + out['output'] - out['alias'] + out['temp']
  return out


def collective_problems(
  found: list[hlo_collectives.Collective], gradient_bytes: int, global_batch: int, chips: int, half: bool = False
) -> list[str]:
  """Why the collectives of one step are not pure data parallelism ([] when they are): the gradients (float32
  `gradient_bytes`; with bf16 compute (`half`) XLA may reduce them in bf16, half the bytes) and only small extras
  are all-reduced, and no collective carries a batch-sized array."""
  problems = []
  by_op = hlo_collectives.bytes_by_op(found)
  total = sum(row['bytes'] for row in by_op.values())
  reduced = by_op.get('all-reduce', {}).get('bytes', 0) + by_op.get('reduce-scatter', {}).get('bytes', 0) * chips
  least = gradient_bytes / 2 if half else gradient_bytes
  if chips > 1 and reduced < 0.99 * least:
    problems.append(
      f'the all-reduces move {reduced / 2**20:.2f} MiB, less than the gradients ({least / 2**20:.2f} MiB): '
      'the gradients are not reduced over the data axis'
    )
  if total > GRADIENT_SLACK * gradient_bytes + SMALL_COLLECTIVE_BYTES:
    problems.append(
      f'the collectives move {total / 2**20:.2f} MiB per step, more than {GRADIENT_SLACK} x the gradients '
      f'({gradient_bytes / 2**20:.2f} MiB)'
    )
  for c in found:
    if c.op != 'all-reduce' and any(dims and dims[0] in (global_batch, global_batch // chips) for _, dims in c.shapes):
      problems.append(f'{c.op} of a batch-sized array {c.shapes} ({c.name or "unnamed"})')
  return problems


def estimate(flops: float, hbm_bytes: float, found: list[hlo_collectives.Collective], chip: Chip, chips: int) -> dict:
  """Roofline seconds per step: compute (FLOPs at the chip's peak bf16 rate), HBM (bytes accessed at its
  bandwidth), ICI (ring collectives: an all-reduce sends and receives 2(n-1)/n of its bytes, gathers and scatters
  (n-1)/n, at half the bidirectional ICI bandwidth each way); the step is the largest of the three (full overlap)."""
  ring = (chips - 1) / chips if chips > 1 else 0.0
  moved = sum(c.count * c.bytes * ring * (2 if c.op == 'all-reduce' else 1) for c in found)
  seconds = {
    'compute_s': flops / chip.peak_bf16_flops,
    'hbm_s': hbm_bytes / chip.hbm_bandwidth,
    'ici_s': moved / (chip.ici_bandwidth / 2),
  }
  seconds['step_s'] = max(seconds.values())
  seconds['bound'] = max(('compute_s', 'hbm_s', 'ici_s'), key=seconds.get).removesuffix('_s')
  return seconds


def fits(compiled_memory: dict[str, int], hbm_bytes: float) -> bool:
  return compiled_memory['total'] <= hbm_bytes
