"""ESRGAN on GPUs (40-80 GB cards with bfloat16 tensor cores: A100, H100, H200), as flax's v100_x8.py sets its
example for 8 V100s: `--config configs/gpu.py:gpus=8,stage=both,scale=4`.

The argument takes configs/esrgan.py's stage and scale, and gpus (default 1), the cards of all hosts together
(several hosts: run with `--distributed`): each stage's global batch is BATCH_PER_GPU patches per card. Not yet run
on a GPU: the memory and speed of these settings are unmeasured, so watch the first steps' memory (`nvidia-smi`)
before a long run.
"""

import ml_collections

from esrgan_jax import configs
from esrgan_jax.configs import esrgan

BATCH_PER_GPU = 16  # HR patches per card and step: BasicSR's batch_size_per_gpu for ESRGAN x4
CHOICES = {**esrgan.CHOICES, 'gpus': range(1, 4097)}  # esrgan.py's keys, and the number of cards


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  values = configs.parse_arg(arg, 'configs/gpu.py', **CHOICES)
  config = esrgan.get_config(f'stage={values["stage"]},scale={values["scale"]}')
  for name in config.stages:
    config[name].batch_size = BATCH_PER_GPU * values['gpus']  # global: BATCH_PER_GPU on each card
  config.half_precision = True  # bfloat16 compute on the tensor cores; params, optimiser state and losses float32
  config.remat = False  # keep activations; turn on for larger batches per card (about 1/3 more compute)
  config.scan_blocks = False  # the RRDBs unrolled (a longer compile); the scanned step's GPU speed is unmeasured
  return config
