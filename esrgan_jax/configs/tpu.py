"""ESRGAN on a TPU slice, as flax's tpu.py sets its example for TPUs: `--config configs/tpu.py:chips=256,stage=gan`
with `--distributed` on every host of the slice.

The argument takes configs/esrgan.py's stage and scale, and chips (default 1), the chips of the whole slice:
each stage's global batch is BATCH_PER_CHIP patches per chip. Plan the run first on any host with the step `main`
would compile (`--per_chip_batch 16`: the planner's default reads batch_size as the per-chip batch):

  python -m esrgan_jax.aot --config configs/tpu.py:chips=256,stage=gan --topology v5e:16x16 --per_chip_batch 16

Not yet run on a TPU: the settings below come from that planner's compiled programs (docs/tpu_pods.md), estimates.
"""

import ml_collections

from esrgan_jax import configs
from esrgan_jax.configs import esrgan

BATCH_PER_CHIP = 16  # HR patches per chip and step: the paper's batch, on each chip
CHOICES = {**esrgan.CHOICES, 'chips': range(1, 8961)}  # esrgan.py's keys, and the chips of the slice


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  values = configs.parse_arg(arg, 'configs/tpu.py', **CHOICES)
  config = esrgan.get_config(f'stage={values["stage"]},scale={values["scale"]}')
  for name in config.stages:
    config[name].batch_size = BATCH_PER_CHIP * values['chips']  # global: BATCH_PER_CHIP on each chip
  config.half_precision = True  # bfloat16 compute, the MXU's input type; params, optimiser state and losses float32
  config.remat = False  # keep activations: the planned GAN step at 16 per chip takes 5.03 of v5e's 14.9 GiB
  config.scan_blocks = True  # XLA compiles one RRDB instead of 23 (several times faster; same step)
  return config
