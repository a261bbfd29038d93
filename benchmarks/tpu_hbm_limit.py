"""The HBM per chip libtpu assumes when it compiles for a TPU generation: compiles a one-device program whose output
is N GiB for each N and prints libtpu's verdict (compiled, or its CompileTimeHbmOom message naming the available
HBM), to compare with `esrgan_jax.planning.chips`' figures (docs/tpu_pods.md).

    JAX_PLATFORMS=cpu TPU_SKIP_MDS_QUERY=1 PYTHONPATH=. python benchmarks/tpu_hbm_limit.py v5e:2x2 v6e:2x2 v4:2x2x1

Needs libtpu (the [tpu] extra); compiles only, in seconds.
"""

import sys

import jax
import jax.numpy as jnp

from esrgan_jax.planning import topology
from esrgan_jax.training import steps

SIZES_GIB = (15, 16, 17, 31, 32, 40, 95, 96)


def verdict(device: jax.Device, gib: int) -> str:
  """'compiled' or libtpu's first error line for a program writing `gib` GiB on the compile-only `device`."""
  replicated = jax.sharding.NamedSharding(steps.create_mesh([device]), jax.sharding.PartitionSpec())
  n = gib * 2**30 // 4
  step = jax.jit(lambda x: jnp.broadcast_to(x, (n,)) * 2.0, in_shardings=replicated, out_shardings=replicated)
  try:
    step.lower(jax.ShapeDtypeStruct((1,), jnp.float32, sharding=replicated)).compile()
  except Exception as e:  # noqa: BLE001  (XlaRuntimeError: the verdict is the message)
    return str(e).splitlines()[0]
  return 'compiled'


def main() -> None:
  for topology_name in sys.argv[1:] or ['v5e:2x2']:
    chip = topology.devices(topology.parse(topology_name))[0]  # the planner's devices: v4 and v5p as megacores
    for gib in SIZES_GIB:
      print(f'{topology_name} {gib} GiB: {verdict(chip, gib)}', flush=True)


if __name__ == '__main__':
  main()
