"""Real-ESRGAN x4plus with LDL (Liang et al., "Details or Artifacts", CVPR 2022): configs/realesrgan_x4plus.py's
second stage plus the LDL artifact loss, weight 1 as in LDL's Real-ESRGAN-based configs. The artifact map compares
the generator's residual with the EMA generator's (esrgan_jax.training.ldl), so the EMA (0.999) takes part in the
loss. Batch 48 on one card: --config.gan.batch_size=16 --config.gan.accum_iter=3 --config.gan.num_steps=1200000
(steps count micro-batches; see docs/trainer_features.md). Needs VGG19 weights (see third_party/vgg_weights).
"""

from pathlib import Path

from esrgan_jax import configs


def get_config():
  config = configs.load_config_file(Path(__file__).with_name('realesrgan_x4plus.py'))
  config.gan.ldl_weight = 1.0
  return config
