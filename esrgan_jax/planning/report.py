"""One planning report per (config, stage, topology, per-chip batch): the compiled step's figures and checks as a
JSON-able dict, the largest per-chip batch that fits (bisection by compiling), and the table `esrgan_jax.aot`
prints."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ml_collections

from esrgan_jax.planning import compiled_step, hlo_collectives, topology
from esrgan_jax.planning.chips import CHIPS, GIB, Chip, usable_hbm_bytes

OUT_OF_MEMORY = ('RESOURCE_EXHAUSTED', 'Ran out of memory', 'exceeds the memory')  # compile errors: does not fit
# float32 matrix products at jax's default precision: the roofline uses the bf16 peak either way
FP32_MATMULS = {'tpu': 'fp32 (TPU default precision: one bf16 pass per matmul)',
                'cuda': 'fp32 (GPU default precision: TF32 matmuls, half the bf16 Tensor Core rate)'}  # fmt: skip
SCALING_TOLERANCE = 0.01  # per-chip memory may differ this much between chip counts (padding, code size)


def plan(
  config: ml_collections.ConfigDict,
  stage_name: str,
  slice_topology: topology.Topology,
  per_chip_batch: int,
  scaling_reference: topology.Topology | None = None,
  hlo_path: Path | None = None,
) -> dict[str, Any]:
  """Compiles the stage's step for `slice_topology` and returns its figures, roofline and checks. With
  `scaling_reference` (fewer chips of the same generation) the step is compiled there too at the same per-chip
  batch, and per-chip memory must not differ. `hlo_path`: where to write the optimised HLO text."""
  chip = CHIPS[slice_topology.generation]
  devices = topology.devices(slice_topology)
  step = compiled_step.compile_step(config, stage_name, devices, per_chip_batch)
  mem = compiled_step.memory(step.compiled)
  hlo_text = step.hlo_text
  if hlo_path:
    hlo_path.write_text(hlo_text)
  found = hlo_collectives.collectives(hlo_text)
  flops = compiled_step.unrolled_flops(config, stage_name, devices, per_chip_batch)
  cost = step.compiled.cost_analysis()  # None for the CUDA plugin's compile-only executables
  hbm_accessed = compiled_step.hbm_bytes_accessed(cost, flops, hlo_text)
  roofline = compiled_step.estimate(flops, hbm_accessed, found, chip, len(devices))
  checks = {
    'fits_hbm': fit_problems(mem, chip),
    'donated_state_aliased': [] if mem['alias'] > 0 else ['no aliased bytes: the donated state is copied'],
    'data_parallel_collectives': compiled_step.collective_problems(
      found, step.gradient_bytes, step.global_batch, len(devices), half=bool(config.half_precision)
    ),
  }  # fmt: skip
  report = {
    'stage': stage_name,
    'topology': str(slice_topology),
    'chip': chip.name,
    'chips': len(devices),
    'hosts': topology.host_count(devices),
    'per_chip_batch': per_chip_batch,
    'global_batch': step.global_batch,
    'hr_patch': config[stage_name].gt_size,
    'compute': 'bf16' if config.half_precision else FP32_MATMULS[slice_topology.platform],
    'scan_blocks': bool(config.get('scan_blocks')),
    'remat': bool(config.get('remat')),
    'memory_bytes': mem,
    'hbm_bytes': chip.hbm_bytes,
    'usable_hbm_bytes': usable_hbm_bytes(chip)[0],  # less than hbm_bytes on a GPU: jax's allocator share
    'flops_per_chip': flops,
    'xla_flops_per_chip': cost.get('flops') if cost else None,  # loop bodies counted once
    'hbm_bytes_accessed_per_chip': hbm_accessed,
    'gradient_bytes': step.gradient_bytes,
    'collectives': hlo_collectives.bytes_by_op(found),
    'roofline': roofline,
    'hr_patches_per_s': step.global_batch / roofline['step_s'],
    'chip_figures': {
      'peak_bf16_flops': chip.peak_bf16_flops,
      'hbm_bandwidth': chip.hbm_bandwidth,
      'ici_bandwidth': chip.ici_bandwidth,
      'interconnect': chip.interconnect,
      'source': chip.source,
      'note': chip.note,
    },
    'compile_s': step.seconds,
  }
  if scaling_reference is not None:
    reference = compiled_step.compile_step(config, stage_name, topology.devices(scaling_reference), per_chip_batch)
    ref_mem = compiled_step.memory(reference.compiled)
    report['scaling_reference'] = {'topology': str(scaling_reference), 'memory_bytes': ref_mem}
    checks['per_chip_memory_independent_of_chips'] = scaling_problems(mem, ref_mem, str(scaling_reference))
  report['checks'] = checks
  return report


def fit_problems(memory: dict[str, int], chip: Chip, environ: Mapping[str, str] = os.environ) -> list[str]:
  """[] if the compiled step's per-chip `memory` fits in the HBM a jax process with `environ` may use on `chip`
  (`usable_hbm_bytes`: a GPU's allocator share), else what it needs against what there is."""
  usable, why = usable_hbm_bytes(chip, environ)
  if compiled_step.fits(memory, usable):
    return []
  if usable == chip.hbm_bytes:
    return [f'needs {_gib(memory["total"])} GiB per chip, the chip has {_gib(chip.hbm_bytes)} GiB']
  return [f'needs {_gib(memory["total"])} GiB per chip, jax may use {_gib(usable)} of its {_gib(chip.hbm_bytes)} GiB '
          f'({why}; raise it or set XLA_PYTHON_CLIENT_ALLOCATOR=platform)']  # fmt: skip


def scaling_problems(memory: dict[str, int], reference: dict[str, int], reference_name: str) -> list[str]:
  """Per-chip memory kinds that differ by more than SCALING_TOLERANCE from `reference`'s (same per-chip batch)."""
  return [
    f'{kind} bytes per chip {memory[kind]} vs {reference[kind]} on {reference_name}: something scales with the chips'
    for kind in ('argument', 'output', 'temp', 'total')
    if abs(memory[kind] - reference[kind]) > SCALING_TOLERANCE * max(reference[kind], 2**20)
  ]


def largest_batch(
  config: ml_collections.ConfigDict, stage_name: str, devices: list, hbm_bytes: float, limit: int = 4096
) -> tuple[int, dict[int, str]]:
  """The largest per-chip batch whose compiled step fits `hbm_bytes` per chip (0 if 1 does not), by doubling from 1
  then bisecting; and every batch tried -> 'fits X GiB' / 'needs X GiB' / 'compile: out of memory'."""
  tried: dict[int, str] = {}

  def ok(batch: int) -> bool:
    try:
      mem = compiled_step.memory(compiled_step.compile_step(config, stage_name, devices, batch).compiled)
    except Exception as e:  # noqa: BLE001  (XlaRuntimeError and others: only out-of-memory means "does not fit")
      if not any(marker in str(e) for marker in OUT_OF_MEMORY):
        raise
      tried[batch] = 'compile: out of memory'
      return False
    good = compiled_step.fits(mem, hbm_bytes)
    tried[batch] = f'{"fits" if good else "needs"} {mem["total"] / GIB:.2f} GiB'
    return good

  if not ok(1):
    return 0, tried
  low, high = 1, 2
  while high <= limit and ok(high):
    low, high = high, high * 2
  if high > limit:
    return low, tried
  while high - low > 1:
    middle = (low + high) // 2
    low, high = (middle, high) if ok(middle) else (low, middle)
  return low, tried


def _gib(n: float) -> str:
  return f'{n / GIB:.2f}'


def _usable_note(report: dict[str, Any]) -> str:
  usable = report.get('usable_hbm_bytes', report['hbm_bytes'])
  return '' if usable == report['hbm_bytes'] else f' (jax may use {_gib(usable)})'


def format_table(report: dict[str, Any]) -> str:
  """The report as aligned 'name  value' lines, collectives one per line, failed checks last."""
  m, r = report['memory_bytes'], report['roofline']
  link = report['chip_figures']['interconnect']
  xla_count = (f'XLA counts {report["xla_flops_per_chip"]:.3g} on the compiled one' if report['xla_flops_per_chip']
               else 'the compiled one gives no XLA count')  # fmt: skip
  rows = [
    ('stage', f'{report["stage"]} (HR {report["hr_patch"]}, {report["compute"]}, scan_blocks {report["scan_blocks"]}, '
              f'remat {report["remat"]})'),
    ('topology', f'{report["topology"]}: {report["chips"]} chips, {report["hosts"]} hosts'),
    ('batch', f'{report["per_chip_batch"]} per chip, {report["global_batch"]} global'),
    ('HBM per chip (GiB)', f'arguments {_gib(m["argument"])} / outputs {_gib(m["output"])} / temp {_gib(m["temp"])} '
                           f'/ aliased {_gib(m["alias"])} / total {_gib(m["total"])} of {_gib(report["hbm_bytes"])}'
                           + _usable_note(report)),
    ('FLOPs per step', f'{report["flops_per_chip"]:.3g} per chip, {report["flops_per_chip"] * report["chips"]:.3g} '
                       f'in all (unrolled; {xla_count})'),
  ]  # fmt: skip
  for op, row in sorted(report['collectives'].items()):
    rows.append((f'collective {op}', f'{row["ops"]} per step, {row["bytes"] / 2**20:.2f} MiB per chip'))
  if not report['collectives']:
    rows.append(('collectives', 'none'))
  rows.append(
    ('gradients', f'{report["gradient_bytes"] / 2**20:.2f} MiB as float32 (bf16 compute may reduce them in bf16)')
  )
  rows += [
    ('roofline (s)', f'compute {r["compute_s"]:.4f} / HBM {r["hbm_s"]:.4f} / {link} {r["ici_s"]:.4f} -> '
                     f'{r["step_s"]:.4f} s per step ({r["bound"]}-bound)'),
    ('estimate', f'{report["hr_patches_per_s"]:.0f} HR patches/s (compiled-program estimate, not a measurement)'),
    ('chip figures', f'{report["chip"]}: {report["chip_figures"]["peak_bf16_flops"] / 1e12:.0f} TFLOP/s bf16, '
                     f'HBM {report["chip_figures"]["hbm_bandwidth"] / 1e9:.0f} GB/s, {link} '
                     f'{report["chip_figures"]["ici_bandwidth"] / 1e9:.0f} GB/s ({report["chip_figures"]["source"]})'),
    ('compile', f'{report["compile_s"]:.0f} s on this host'),
  ]  # fmt: skip
  for name, problems in report['checks'].items():
    rows.append((f'check {name}', 'ok' if not problems else 'FAILED: ' + '; '.join(problems)))
  width = max(len(name) for name, _ in rows)
  return '\n'.join(f'{name:<{width}}  {value}' for name, value in rows)
