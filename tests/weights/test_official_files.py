"""The plain file tables agree with the converters that read them."""

from esrgan_jax.weights import model_io, perceptual
from esrgan_jax.weights.official_files import PERCEPTUAL_FILES


def test_every_perceptual_network_has_its_files_and_their_arch_names_its_module():
  assert list(perceptual.PERCEPTUAL_NETWORKS) == list(PERCEPTUAL_FILES)
  for name, network in perceptual.PERCEPTUAL_NETWORKS.items():
    assert network.files is PERCEPTUAL_FILES[name]
    assert model_io.ARCHS[network.files.arch] is network.module
