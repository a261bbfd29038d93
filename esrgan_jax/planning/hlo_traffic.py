"""HBM bytes an optimised HLO module (its text: `compiled_step.compile_with_hlo`) reads and writes per run, loops
included: the route for GPU programs, whose compile-only executables give no cost analysis. Read from the text alone,
by the rules of XLA's own analysis ('bytes accessed' of HloCostAnalysis), which counts a while loop's body once; here
each loop body counts once per iteration (`hlo_collectives.trip_count`).

Each top-level instruction (a fusion is one) moves its operands' and its result's bytes, except:
- a fusion operand that the fused computation only slices moves the slices' bytes; a fusion output made by a
  dynamic-update-slice of an operand (in place) moves the update's bytes, and that operand nothing;
- a custom call (cuDNN convolution, cuBLAS GEMM) leaves out its workspace, the u8 last element of its result tuple;
- a slice moves its result twice (read, write); a dynamic-update-slice its update twice (in place);
- parameters, constants, tuples, get-tuple-element, bitcasts and an async op's '-done' move nothing; a '-start'
  moves its operands and as many bytes again (an all-gather-start: its operands and its gathered result).
The computations a while loop (body and condition), conditional (each branch, once) or call runs are counted where
they run; those a fusion or reduction applies are part of that instruction.
"""

import re

from esrgan_jax.planning import hlo_collectives

_DEFINITION = re.compile(r'^\s*(ROOT\s+)?%?([\w.\-]+)\s*=\s*(.*?)\s([a-z][a-z\-]*)\((.*)$')
_OPERAND = re.compile(r'%([\w.\-]+)')
_CALLS = re.compile(r'\bcalls=%?([\w.\-]+)')
_BODY = re.compile(r'\bbody=%?([\w.\-]+)')
_CONDITION = re.compile(r'\bcondition=%?([\w.\-]+)')
_TO_APPLY = re.compile(r'\bto_apply=%?([\w.\-]+)')
_BRANCH_LIST = re.compile(r'branch_computations=\{([^}]*)\}')
_BRANCH = re.compile(r'(?:true|false)_computation=%?([\w.\-]+)')
_FREE = (
  'parameter',
  'constant',
  'tuple',
  'get-tuple-element',
  'bitcast',
  'after-all',
  'partition-id',
  'replica-id',
  'opt-barrier',
  'while',
  'conditional',
  'call',
  'async-update',
)
_SLICES = ('slice', 'dynamic-slice')
_SCRATCH = ('u8', 's8')  # a custom call's workspace, the last element of its result tuple


class _Instruction:
  """One line of HLO: its name, result shapes and bytes, op, the text inside `op(...)` and its operand names, the
  attributes after it, and whether it is its computation's ROOT."""

  def __init__(self, match: re.Match):
    root, self.name, result, self.op, rest = match.groups()
    self.is_root = bool(root)
    self.shapes = hlo_collectives.parse_shapes(result)
    self.bytes = hlo_collectives.array_bytes(self.shapes)
    depth, end = 1, len(rest)
    for i, char in enumerate(rest):  # the operand list ends at the ')' that closes 'op('
      depth += {'(': 1, ')': -1}.get(char, 0)
      if depth == 0:
        end = i
        break
    self.arguments = rest[:end]
    self.operands = _OPERAND.findall(self.arguments)
    self.attributes = rest[end:]


def _parse(lines: list[str]) -> list[_Instruction]:
  return [_Instruction(m) for m in map(_DEFINITION.match, lines) if m]


def _fusion_bytes(operand_bytes: list[int], fused: list[_Instruction]) -> int:
  """Bytes a fusion with operands of `operand_bytes` moves, its fused computation being `fused`."""
  by_name = {i.name: i for i in fused}
  users: dict[str, list[_Instruction]] = {}
  for instruction in fused:
    for operand in instruction.operands:
      users.setdefault(operand, []).append(instruction)

  def uses(name: str) -> list[tuple[_Instruction, bool]]:
    """(user, whether `name` reaches it as its first operand), looking through bitcasts."""
    found = []
    for user in users.get(name, []):
      if user.op == 'bitcast':
        found += uses(user.name)
      else:
        found.append((user, bool(user.operands) and user.operands[0] == name))
    return found

  root = next((i for i in fused if i.is_root), fused[-1])
  outputs = [by_name[o] for o in root.operands] if root.op == 'tuple' else [root]
  in_place = {o.name for o in outputs if o.op == 'dynamic-update-slice'}
  total = 0
  for parameter in (i for i in fused if i.op == 'parameter'):
    index = int(parameter.arguments)
    read = uses(parameter.name)
    if read and all(first and user.op in _SLICES for user, first in read):
      total += sum(user.bytes for user, _ in read)
    elif read and all(first and user.name in in_place for user, first in read):
      continue  # the buffer updated in place: only the update moves, counted with the output
    elif index < len(operand_bytes):
      total += operand_bytes[index]
  for output in outputs:
    total += by_name[output.operands[1]].bytes if output.name in in_place else output.bytes
  return total


def _instruction_bytes(
  instruction: _Instruction, sizes: dict[str, int], computations: dict[str, list[_Instruction]]
) -> int:
  """Bytes one top-level instruction moves; `sizes` holds its computation's earlier results' bytes."""
  op = instruction.op
  if op in _FREE or op.endswith('-done'):
    return 0
  operand_bytes = [sizes.get(o, 0) for o in instruction.operands]
  if op == 'fusion':
    return _fusion_bytes(operand_bytes, computations[_CALLS.search(instruction.attributes).group(1)])
  if op in _SLICES:
    return 2 * instruction.bytes
  if op == 'dynamic-update-slice':
    return 2 * operand_bytes[1]
  if op == 'all-gather-start':
    return sum(operand_bytes) + hlo_collectives.array_bytes(instruction.shapes[len(instruction.shapes) // 2 :])
  if op.endswith('-start'):
    return 2 * sum(operand_bytes)
  shapes = instruction.shapes
  if op == 'custom-call' and len(shapes) > 1 and shapes[-1][0] in _SCRATCH:
    shapes = shapes[:-1]
  return sum(operand_bytes) + hlo_collectives.array_bytes(shapes)


def _executed(instruction: _Instruction, computations: dict[str, list[str]]) -> list[tuple[str, int]]:
  """The computations `instruction` runs in its place, with their executions per execution of it."""
  text = instruction.attributes
  if instruction.op == 'while':
    trips = hlo_collectives.trip_count(instruction.op + '(' + text, computations)
    return [(_BODY.search(text).group(1), trips), (_CONDITION.search(text).group(1), trips + 1)]
  if instruction.op == 'conditional':
    names = [b.strip().lstrip('%') for found in _BRANCH_LIST.findall(text) for b in found.split(',') if b.strip()]
    return [(n, 1) for n in names + _BRANCH.findall(text)]
  if instruction.op == 'call':
    return [(_TO_APPLY.search(text).group(1), 1)]
  if instruction.op == 'async-start':
    return [(_CALLS.search(text).group(1), 1)]
  return []


def bytes_accessed(hlo_text: str) -> float:
  """Bytes the module reads and writes per run: each computation's instructions' bytes times the executions of the
  computation (the trip counts of the loops around it)."""
  lines, entry = hlo_collectives.split_computations(hlo_text)
  computations = {name: _parse(body) for name, body in lines.items()}
  total, pending = 0.0, [(entry, 1)]
  while pending:
    name, times = pending.pop()
    sizes: dict[str, int] = {}
    for instruction in computations[name]:
      total += times * _instruction_bytes(instruction, sizes, computations)
      sizes[instruction.name] = instruction.bytes
      pending += [(callee, times * n) for callee, n in _executed(instruction, lines)]
  return total
