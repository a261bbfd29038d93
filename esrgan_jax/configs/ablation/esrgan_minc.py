"""Ablation, beyond Fig. 7: esrgan.py with the perceptual loss on MINC features (conv5_3 of a VGG16 fine-tuned for
material recognition) instead of VGG19's, as the paper's PIRM-SR entry (§3.3; it reports a marginal gain in the
perceptual index). Needs converted MINC weights; `python -m esrgan_jax.ablation` runs it only when named."""

from pathlib import Path

import ml_collections

from esrgan_jax import configs


def get_config() -> ml_collections.ConfigDict:
  config = configs.load_config_file(Path(__file__).with_name('esrgan.py'))
  config.gan.perceptual_network = 'minc'
  config.gan.perceptual_layers = {'conv53': 1.0}
  return config
