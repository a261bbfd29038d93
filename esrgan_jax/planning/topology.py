"""TPU slice names -> compile-only devices (`jax.experimental.topologies`), on a host without a TPU. Needs libtpu."""

import dataclasses
import re

# generation: (libtpu's topology prefix, chip config, TensorCores per chip: Cloud slice names count cores)
GENERATIONS = {'v4': ('v4', 'megacore', 2), 'v5e': ('v5e', 'default', 1), 'v5p': ('v5', 'megacore', 2),
               'v6e': ('v6e', 'default', 1)}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Topology:
  generation: str  # a key of GENERATIONS (and of chips.CHIPS)
  dims: tuple[int, ...]  # chips along each ICI axis of one slice
  num_slices: int = 1  # slices joined over the data-centre network

  @property
  def chips(self) -> int:
    n = self.num_slices
    for d in self.dims:
      n *= d
    return n

  @property
  def libtpu_name(self) -> str:
    return f'{GENERATIONS[self.generation][0]}:{"x".join(map(str, self.dims))}'

  @property
  def cloud_name(self) -> str:
    """The accelerator type of one slice, e.g. v5e-256, v4-32 (v4 and v5p names count TensorCores)."""
    return f'{self.generation}-{self.chips // self.num_slices * GENERATIONS[self.generation][2]}'

  def __str__(self) -> str:
    name = f'{self.cloud_name} ({self.generation}:{"x".join(map(str, self.dims))})'
    return f'{self.num_slices} x {name}' if self.num_slices > 1 else name


def parse(text: str, num_slices: int = 1) -> Topology:
  """'v5e:16x16', 'v4:2x2x4', 'v5p:4x4x4', 'v6e:8x8' -> Topology. Raises ValueError naming the accepted form."""
  match = re.fullmatch(r'(v4|v5e|v5p|v6e):(\d+(?:x\d+){1,2})', text.strip())
  if not match or num_slices < 1:
    raise ValueError(
      f'--topology {text!r} (num_slices {num_slices}) is not GENERATION:AxB[xC] with GENERATION one of '
      f'{", ".join(GENERATIONS)}, e.g. v5e:16x16 (v5e-256), v4:2x2x4 (v4-32), v5p:4x4x4 (v5p-128), v6e:8x8.'
    )
  return Topology(match.group(1), tuple(int(d) for d in match.group(2).split('x')), num_slices)


def devices(topology: Topology) -> list:
  """The compile-only jax devices of every chip of `topology` (libtpu's description; no TPU needed)."""
  from jax.experimental import topologies  # pylint: disable=g-import-not-at-top

  kwargs = {'chip_config_name': GENERATIONS[topology.generation][1]}
  if topology.num_slices > 1:
    kwargs['num_slices'] = topology.num_slices
  return list(topologies.get_topology_desc(platform='tpu', topology_name=topology.libtpu_name, **kwargs).devices)


def host_count(devices: list) -> int:
  return len({d.process_index for d in devices})
