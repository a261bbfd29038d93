"""Real-ESRGAN's `UNetDiscriminatorSN` state dicts <-> our flax variables.

Torch keys: conv0.{weight,bias}, conv9.{weight,bias}, and for the spectrally normalised conv1-conv8
convN.weight_orig [out, in, k, k], convN.weight_u [out], convN.weight_v [in * k * k]. Flax: params
convN/kernel (HWIO) and bias; 'spectral' convN/u, convN/v. The checkpoint may be BasicSR-wrapped ({'params': ...}).
"""

from collections.abc import Mapping
from typing import Any

import numpy as np

from esrgan_jax.models.unet_discriminator import UNetDiscriminatorSN
from esrgan_jax.weights.torch_layout import kernel_from_torch, kernel_to_torch, unwrap

SPECTRAL_CONVS = tuple(f'conv{i}' for i in range(1, 9))
PLAIN_CONVS = ('conv0', 'conv9')


def _expected_keys() -> set[str]:
  plain = {f'{name}.{leaf}' for name in PLAIN_CONVS for leaf in ('weight', 'bias')}
  return plain | {f'{name}.weight_{leaf}' for name in SPECTRAL_CONVS for leaf in ('orig', 'u', 'v')}


def unet_discriminator_from_torch(
  state: Mapping, params_key: str | None = None, skip_connection: bool = True
) -> tuple[UNetDiscriminatorSN, dict[str, Any]]:
  """A torch state dict (numpy arrays) -> (module, {'params', 'spectral'}). num_in_ch and num_feat come from
  conv0's weight; skip_connection is not in the weights (Real-ESRGAN's models use True)."""
  state = unwrap(state, params_key)
  expected = _expected_keys()
  if set(state) != expected:
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    raise ValueError(
      f'Not a Real-ESRGAN UNetDiscriminatorSN state dict: missing {missing[:4]}, unexpected {unexpected[:4]}. '
      'Expected conv0-conv9 with weight_orig/weight_u/weight_v on conv1-conv8 (e.g. RealESRGAN_x4plus_netD.pth).'
    )
  num_feat, num_in_ch = np.shape(state['conv0.weight'])[:2]
  module = UNetDiscriminatorSN(num_in_ch=int(num_in_ch), num_feat=int(num_feat), skip_connection=skip_connection)
  params = {name: {'kernel': kernel_from_torch(state[f'{name}.weight'])} for name in PLAIN_CONVS}
  for name in PLAIN_CONVS:
    params[name]['bias'] = np.asarray(state[f'{name}.bias'], np.float32)
  spectral = {}
  for name in SPECTRAL_CONVS:
    params[name] = {'kernel': kernel_from_torch(state[f'{name}.weight_orig'])}
    spectral[name] = {leaf: np.asarray(state[f'{name}.weight_{leaf}'], np.float32) for leaf in ('u', 'v')}
  return module, {'params': params, 'spectral': spectral}


def unet_discriminator_to_torch(variables: Mapping[str, Any]) -> dict[str, np.ndarray]:
  """{'params', 'spectral'} -> torch state dict with Real-ESRGAN's keys (numpy float32)."""
  params, spectral = variables['params'], variables['spectral']
  state = {}
  for name in PLAIN_CONVS:
    state[f'{name}.weight'] = kernel_to_torch(params[name]['kernel'])
    state[f'{name}.bias'] = np.asarray(params[name]['bias'], np.float32)
  for name in SPECTRAL_CONVS:
    state[f'{name}.weight_orig'] = kernel_to_torch(params[name]['kernel'])
    state[f'{name}.weight_u'] = np.asarray(spectral[name]['u'], np.float32)
    state[f'{name}.weight_v'] = np.asarray(spectral[name]['v'], np.float32)
  return state
