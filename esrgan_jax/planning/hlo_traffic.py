"""HBM bytes an optimised HLO module (`Compiled.as_text()`) accesses per run, loops included. XLA's cost analysis
counts a while loop's body once, so each loop body is also analysed on its own (made the module's entry) and counted
once per iteration. The analysis runs on this process's CPU backend, which analyses a module compiled for any
platform: the route for GPU programs, whose compile-only executables give no cost analysis. A loop inside a
conditional's branch or a called computation counts once."""

import re

import jax
from jax._src.lib import xla_client  # XLA's HloCostAnalysis of a module from text has no public jax API

from esrgan_jax.planning import hlo_collectives

_BODY = re.compile(r'\bbody=%?([\w.\-]+)')


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
  """Bytes the module reads and writes per run: each computation's own bytes (its loops' bodies taken out) times
  its executions (the trip counts of the loops around it, `hlo_collectives.trip_count`)."""
  computations, entry = hlo_collectives.split_computations(hlo_text)
  total, pending = 0.0, [(entry, 1)]
  while pending:
    name, times = pending.pop()
    own = _inclusive_bytes(hlo_text, name)
    for line in computations[name]:
      body = _BODY.search(line) if ' while(' in line else None
      if body:
        own -= _inclusive_bytes(hlo_text, body.group(1))
        pending.append((body.group(1), times * hlo_collectives.trip_count(line, computations)))
    total += own * times
  return total
