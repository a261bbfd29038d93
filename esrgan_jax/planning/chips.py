"""Public per-chip figures of Cloud TPU generations and of the H100, for the roofline of `compiled_step.estimate`.

Each figure is as the generation's Cloud TPU documentation page, or NVIDIA's H100 datasheet, states it (units
converted to bytes and FLOP/s).
"""

import dataclasses
import os
from collections.abc import Mapping

GB, GIB = 10**9, 2**30
# the share of a GPU's memory jax's allocator takes unless XLA_PYTHON_CLIENT_MEM_FRACTION says otherwise
JAX_GPU_MEMORY_FRACTION = 0.75


@dataclasses.dataclass(frozen=True)
class Chip:
  name: str  # Cloud TPU name: v4, v5e, v5p, v6e; or the GPU's: h100
  device_kind: str  # jax Device.device_kind of its compile-only devices
  peak_bf16_flops: float  # FLOP/s, dense bf16
  hbm_bytes: float
  hbm_bandwidth: float  # bytes/s
  ici_bandwidth: float  # bytes/s per chip, bidirectional (both directions of all ports together)
  source: str  # the documentation page
  note: str = ''
  interconnect: str = 'ICI'  # what ici_bandwidth is: the TPU's inter-chip links, or a GPU's NVLink
  gpu: bool = False  # jax's GPU allocator takes a share of hbm_bytes (see usable_hbm_bytes)


CHIPS = {
  chip.name: chip
  for chip in (
    Chip(
      'v4',
      'TPU v4',
      275e12,
      32 * GIB,
      1200 * GB,
      2 * 1.1e15 / 4096,
      'https://cloud.google.com/tpu/docs/v4',
      'the page gives no per-chip ICI figure: 2 x (all-reduce bandwidth per Pod 1.1 PB/s / 4096 chips), the relation '
      'between those figures on the v5e and v6e pages',
    ),
    Chip('v5e', 'TPU v5 lite', 197e12, 16 * GB, 819 * GB, 400 * GB, 'https://cloud.google.com/tpu/docs/v5e'),
    Chip('v5p', 'TPU v5', 459e12, 95 * GIB, 2765 * GB, 1200 * GB, 'https://cloud.google.com/tpu/docs/v5p'),
    Chip('v6e', 'TPU v6 lite', 918e12, 32 * GB, 1638 * GB, 800 * GB, 'https://cloud.google.com/tpu/docs/v6e'),
    Chip(
      'h100',
      'NVIDIA H100 80GB HBM3',
      989e12,
      80 * GB,
      3350 * GB,
      900 * GB,
      'https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet',
      'H100 SXM: dense bf16 Tensor Core rate (1979 TFLOP/s with sparsity), NVLink 900 GB/s between the GPUs of one '
      'host',
      'NVLink',
      gpu=True,
    ),
  )
}


def usable_hbm_bytes(chip: Chip, environ: Mapping[str, str] = os.environ) -> tuple[float, str]:
  """The HBM one jax process can use on `chip`, and why: all of a TPU's; of a GPU's, the share jax's allocator takes
  (XLA_PYTHON_CLIENT_MEM_FRACTION, 0.75 by default, read from `environ`, the planning process's environment, so plan
  with the variables the run will have; all of it with XLA_PYTHON_CLIENT_ALLOCATOR=platform)."""
  if not chip.gpu or environ.get('XLA_PYTHON_CLIENT_ALLOCATOR') == 'platform':
    return chip.hbm_bytes, ''
  text = environ.get('XLA_PYTHON_CLIENT_MEM_FRACTION', str(JAX_GPU_MEMORY_FRACTION))
  try:
    fraction = float(text)
  except ValueError:
    raise ValueError(
      f'XLA_PYTHON_CLIENT_MEM_FRACTION={text} is not a number; set it to e.g. 0.9 or unset it.'
    ) from None
  if not 0 < fraction <= 1:
    raise ValueError(f'XLA_PYTHON_CLIENT_MEM_FRACTION={text} is outside (0, 1]; set it to e.g. 0.9 or unset it.')
  return chip.hbm_bytes * fraction, f'XLA_PYTHON_CLIENT_MEM_FRACTION={text}: jax uses that share of the GPU'
