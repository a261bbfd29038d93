"""HBM bytes an optimised HLO module (`Compiled.as_text()`) accesses per run, loops included. XLA's cost analysis
counts a while loop's body once, so each loop body is also analysed on its own (made the module's entry) and counted
once per iteration. The analysis runs on this process's CPU backend, which analyses a module compiled for any
platform: the route for GPU programs, whose compile-only executables give no cost analysis. It counts a custom call
(a GPU program's cuDNN convolutions and cuBLAS GEMMs) as -1 byte, so custom calls are counted here: their operands
and results. A loop inside a conditional's branch or a called computation counts once."""

import re

import jax
from jax._src.lib import xla_client  # XLA's HloCostAnalysis of a module from text has no public jax API

from esrgan_jax.planning import hlo_collectives

_BODY = re.compile(r'\bbody=%?([\w.\-]+)')
_DEFINITION = re.compile(r'^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(.*?)\s([a-z][a-z\-]*)\((.*)$')
_SCRATCH = ('u8', 's8')  # a custom call's workspace, the last element of its result tuple


def _custom_call_bytes(lines: list[str]) -> float:
  """Operand and result bytes (workspace left out) of the custom calls among one computation's instructions, plus
  the -1 byte the cost analysis counted for each."""
  sizes: dict[str, int] = {}
  total = 0.0
  for line in lines:
    match = _DEFINITION.match(line)
    if not match:
      continue
    name, result, op, rest = match.groups()
    shapes = hlo_collectives.parse_shapes(result)
    sizes[name] = hlo_collectives.array_bytes(shapes)
    if op == 'custom-call':
      if len(shapes) > 1 and shapes[-1][0] in _SCRATCH:
        shapes = shapes[:-1]
      operands = re.findall(r'%([\w.\-]+)', rest.split(')', 1)[0])
      total += hlo_collectives.array_bytes(shapes) + sum(sizes.get(o, 0) for o in operands) + 1
  return total


def _inclusive_bytes(hlo_text: str, entry: str) -> float:
  """XLA's 'bytes accessed' of the module run from computation `entry` (a loop inside it counted once). The header
  (aliasing, layouts) describes the original entry's parameters, so it is dropped."""
  computations = hlo_text.split('\n', 1)[1]
  computations = re.sub(r'^ENTRY ', '', computations, flags=re.MULTILINE)
  computations = re.sub(rf'^(%?{re.escape(entry)} )', r'ENTRY \1', computations, count=1, flags=re.MULTILINE)
  module = xla_client.hlo.hlo_module_from_text('HloModule analysed\n' + computations)
  client = jax.local_devices(backend='cpu')[0].client
  return xla_client._xla.hlo_module_cost_analysis(client, module).get('bytes accessed', 0.0)


def bytes_accessed(hlo_text: str) -> float:
  """Bytes the module reads and writes per run: each computation's own bytes (its loops' bodies taken out, its
  custom calls added) times its executions (the trip counts of the loops around it, `hlo_collectives.trip_count`)."""
  computations, entry = hlo_collectives.split_computations(hlo_text)
  total, pending = 0.0, [(entry, 1)]
  while pending:
    name, times = pending.pop()
    own = _inclusive_bytes(hlo_text, name) + _custom_call_bytes(computations[name])
    for line in computations[name]:
      body = _BODY.search(line) if ' while(' in line else None
      if body:
        own -= _inclusive_bytes(hlo_text, body.group(1))
        pending.append((body.group(1), times * hlo_collectives.trip_count(line, computations)))
    total += own * times
  return total
