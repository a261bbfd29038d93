"""configs/realesrgan_x4plus_ldl.py in minutes on 2 CPU cores: configs/realesrgan_demo.py (the small RRDBNet, both
stages on 64-px GT patches degraded in the step) with the LDL artifact loss (weight 1) in the GAN stage.
"""

from pathlib import Path

from esrgan_jax import configs


def get_config():
  config = configs.load_config_file(Path(__file__).with_name('realesrgan_demo.py'))
  config.gan.ldl_weight = 1.0
  return config
