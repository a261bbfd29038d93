"""Slice names -> compile-only devices (`jax.experimental.topologies`), on a host without the accelerator: TPU pod
slices through libtpu, NVIDIA GPUs of one host through the jax CUDA plugin (`jax[cuda12]`, no GPU or driver needed)."""

import dataclasses
import re
from pathlib import Path

# generation: (libtpu's topology prefix, chip config, TensorCores per chip: Cloud slice names count cores)
GENERATIONS = {'v4': ('v4', 'megacore', 2), 'v5e': ('v5e', 'default', 1), 'v5p': ('v5', 'megacore', 2),
               'v6e': ('v6e', 'default', 1)}  # fmt: skip
# GPU: (XLA GpuTargetConfig text proto of its device, in this folder; GPUs of one host joined by NVLink)
GPUS = {'h100': ('h100_sxm5_target_config.txtpb', 8)}


@dataclasses.dataclass(frozen=True)
class Topology:
  generation: str  # a key of GENERATIONS or GPUS (and of chips.CHIPS)
  dims: tuple[int, ...]  # chips along each ICI axis of one slice; (GPUs,) of one host for a GPU
  num_slices: int = 1  # slices joined over the data-centre network

  @property
  def chips(self) -> int:
    n = self.num_slices
    for d in self.dims:
      n *= d
    return n

  @property
  def platform(self) -> str:
    """The jax platform that compiles for it: 'tpu' or 'cuda'."""
    return 'cuda' if self.generation in GPUS else 'tpu'

  @property
  def libtpu_name(self) -> str:
    return f'{GENERATIONS[self.generation][0]}:{"x".join(map(str, self.dims))}'

  @property
  def cloud_name(self) -> str:
    """The accelerator type of one slice, e.g. v5e-256, v4-32 (v4 and v5p names count TensorCores); 8xH100."""
    if self.platform == 'cuda':
      return f'{self.chips}x{self.generation.upper()}'
    return f'{self.generation}-{self.chips // self.num_slices * GENERATIONS[self.generation][2]}'

  def __str__(self) -> str:
    name = f'{self.cloud_name} ({self.generation}:{"x".join(map(str, self.dims))})'
    return f'{self.num_slices} x {name}' if self.num_slices > 1 else name


def parse(text: str, num_slices: int = 1) -> Topology:
  """'v5e:16x16', 'v4:2x2x4', 'v5p:4x4x4', 'v6e:8x8', 'h100:8' -> Topology. Raises ValueError naming the accepted
  forms."""
  text = text.strip()
  tpu = re.fullmatch(r'(v4|v5e|v5p|v6e):(\d+(?:x\d+){1,2})', text)
  gpu = re.fullmatch(r'(h100):(\d+)', text)
  if gpu and num_slices == 1 and 1 <= int(gpu.group(2)) <= GPUS[gpu.group(1)][1]:
    return Topology(gpu.group(1), (int(gpu.group(2)),))
  if not tpu or num_slices < 1:
    raise ValueError(
      f'--topology {text!r} (num_slices {num_slices}) is not GENERATION:AxB[xC] with GENERATION one of '
      f'{", ".join(GENERATIONS)}, e.g. v5e:16x16 (v5e-256), v4:2x2x4 (v4-32), v5p:4x4x4 (v5p-128), v6e:8x8; nor '
      f'h100:N, N of the {GPUS["h100"][1]} GPUs of one host (one slice).'
    )
  return Topology(tpu.group(1), tuple(int(d) for d in tpu.group(2).split('x')), num_slices)


def target_config(generation: str) -> str:
  """The GPU's device description, an XLA GpuTargetConfig text proto (see the file's comments for its sources)."""
  return (Path(__file__).with_name(GPUS[generation][0])).read_text()


def devices(topology: Topology) -> list:
  """The compile-only jax devices of every chip of `topology` (libtpu's description, or the CUDA plugin's from the
  GPU's target config; no accelerator needed)."""
  from jax.experimental import topologies  # pylint: disable=g-import-not-at-top

  if topology.platform == 'cuda':  # the plugin's option `topology`: slices x hosts x GPUs per host
    options = {'topology': f'1x1x{topology.chips}', 'target_config': target_config(topology.generation)}
    return list(topologies.get_topology_desc(platform='cuda', **options).devices)
  kwargs = {'chip_config_name': GENERATIONS[topology.generation][1]}
  if topology.num_slices > 1:
    kwargs['num_slices'] = topology.num_slices
  return list(topologies.get_topology_desc(platform='tpu', topology_name=topology.libtpu_name, **kwargs).devices)


def host_count(devices: list) -> int:
  return len({d.process_index for d in devices})
