"""The collectives of an optimised HLO module (its text: `compiled_step.compile_with_hlo`), counted per execution of
the program: a collective inside a while loop (a scan) counts once per iteration (`trip_count`)."""

import collections
import dataclasses
import re

COLLECTIVES = ('all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all', 'collective-permute', 'collective-broadcast')
DTYPE_BYTES = {
  'pred': 1,
  's8': 1,
  'u8': 1,
  's16': 2,
  'u16': 2,
  'f16': 2,
  'bf16': 2,
  's32': 4,
  'u32': 4,
  'f32': 4,
  's64': 8,
  'u64': 8,
  'f64': 8,
  'c64': 8,
  'c128': 16,
}
_SHAPE = re.compile(r'\b([a-z]+[0-9]*(?:e[0-9]m[0-9]\w*)?)\[([0-9,]*)\]')
_COMPUTATION = re.compile(r'^(?:ENTRY\s+)?%?([\w.\-]+)\s*\(.*\)\s*->.*\{\s*$')
_INSTRUCTION = re.compile(r'^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(.*?)\s([a-z][a-z\-]*)\((.*)$')
_CALLED = re.compile(r'\b(?:calls|to_apply|body|condition|true_computation|false_computation)=%?([\w.\-]+)')
_BRANCHES = re.compile(r'branch_computations=\{([^}]*)\}')
_TRIP_COUNT = re.compile(r'"known_trip_count":\{"n":"(\d+)"\}')
_CONDITION = re.compile(r'condition=%?([\w.\-]+)')
_INT_CONSTANT = re.compile(r'= s32\[\][^=]* constant\((\d+)\)')


@dataclasses.dataclass(frozen=True)
class Collective:
  op: str  # 'all-reduce', 'all-gather', ... (an async pair's '-start' counted as the op)
  shapes: tuple[tuple[str, tuple[int, ...]], ...]  # result arrays: (dtype, dims)
  count: int  # executions per program run (the trip counts of the loops around it)
  name: str  # the op_name metadata, or ''

  @property
  def bytes(self) -> int:
    """Result bytes of one execution, per chip."""
    return array_bytes(self.shapes)


def array_bytes(shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> int:
  """Bytes of the arrays `parse_shapes` returns."""
  return sum(DTYPE_BYTES.get(d, 4) * _prod(dims) for d, dims in shapes)


def _prod(dims: tuple[int, ...]) -> int:
  n = 1
  for d in dims:
    n *= d
  return n


def parse_shapes(text: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
  """Array shapes in an HLO result type, e.g. '(f32[4]{0}, bf16[2,8]{1,0})' -> (('f32', (4,)), ('bf16', (2, 8)))."""
  return tuple(
    (dtype, tuple(int(d) for d in dims.split(',') if d)) for dtype, dims in _SHAPE.findall(text) if dtype in DTYPE_BYTES
  )


def trip_count(while_line: str, computations: dict[str, list[str]]) -> int:
  """Iterations of a while loop: its `known_trip_count`, else the N of a condition `i < constant(N)` (a scan's
  counter from 0), else 1."""
  known = _TRIP_COUNT.search(while_line)
  if known:
    return int(known.group(1))
  condition = _CONDITION.search(while_line)
  lines = computations.get(condition.group(1), []) if condition else []
  bounds = [int(n) for line in lines for n in _INT_CONSTANT.findall(line)]
  if len(bounds) == 1 and any('direction=LT' in line for line in lines):
    return bounds[0]
  return 1


def split_computations(hlo_text: str) -> tuple[dict[str, list[str]], str]:
  """The module's computations ({name: its instruction lines}) and the name of its ENTRY computation."""
  computations: dict[str, list[str]] = {}
  entry, current = None, None
  for line in hlo_text.splitlines():
    match = _COMPUTATION.match(line)
    if match:
      current = match.group(1)
      computations[current] = []
      if line.startswith('ENTRY'):
        entry = current
    elif current is not None:
      computations[current].append(line)
  if entry is None:
    raise ValueError('No ENTRY computation in the HLO text.')
  return computations, entry


def collectives(hlo_text: str) -> list[Collective]:
  """Every collective of the module reachable from its ENTRY computation, with its executions per run."""
  computations, entry = split_computations(hlo_text)
  multiplier: dict[str, int] = collections.defaultdict(int)
  pending = [(entry, 1)]
  while pending:  # computations are a DAG; a computation reached along several paths counts each path
    name, times = pending.pop()
    multiplier[name] += times
    for line in computations.get(name, ()):
      loop = trip_count(line, computations) if ' while(' in line else 1
      called = _CALLED.findall(line)
      for branches in _BRANCHES.findall(line):
        called += [b.strip().lstrip('%') for b in branches.split(',') if b.strip()]
      for callee in called:
        is_body = f'body=%{callee}' in line or f'body={callee}' in line
        pending.append((callee, times * (loop if is_body else 1)))
  found = []
  for name, times in multiplier.items():
    for line in computations.get(name, ()):
      match = _INSTRUCTION.match(line)
      if not match or match.group(2).removesuffix('-start') not in COLLECTIVES or match.group(2).endswith('-done'):
        continue
      op_name = re.search(r'op_name="([^"]*)"', line)
      shapes = parse_shapes(match.group(1))
      if match.group(2) == 'all-gather-start':  # its result is (operands..., gathered results...)
        shapes = shapes[len(shapes) // 2 :]
      found.append(
        Collective(match.group(2).removesuffix('-start'), shapes, times, op_name.group(1) if op_name else '')
      )
  return found


def bytes_by_op(found: list[Collective]) -> dict[str, dict[str, int]]:
  """{op: {'ops': executions per run, 'bytes': result bytes per run per chip}}."""
  table: dict[str, dict[str, int]] = {}
  for c in found:
    row = table.setdefault(c.op, {'ops': 0, 'bytes': 0})
    row['ops'] += c.count
    row['bytes'] += c.count * c.bytes
  return table
