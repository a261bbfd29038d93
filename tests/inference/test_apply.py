"""esrgan_jax.inference.apply.make_apply_fn: a batch split over devices computes what one device computes."""

import jax
import numpy as np
from helpers import tiny_generator

from esrgan_jax.inference import apply


def test_batches_split_over_the_devices_and_other_sizes_run_on_the_first():
  module, params = tiny_generator(2)
  x = np.random.default_rng(0).random((8, 12, 12, 3), np.float32)
  expected = np.asarray(jax.jit(module.apply)({'params': params}, x))
  one_device = apply.make_apply_fn(module, params, jax.devices()[:1])
  np.testing.assert_allclose(np.asarray(one_device(x)), expected, atol=1e-5)
  two_devices = apply.make_apply_fn(module, params, jax.devices()[:2])
  for batch, devices in ((4, jax.devices()[:2]), (3, jax.devices()[:1])):
    out = two_devices(x[:batch])
    assert out.shape == (batch, 24, 24, 3) and out.sharding.device_set == set(devices)
    np.testing.assert_allclose(np.asarray(out), expected[:batch], atol=1e-5)
  every_device = apply.make_apply_fn(module, params)(x)  # default: all local devices (conftest: 8 CPU devices)
  assert every_device.sharding.device_set == set(jax.local_devices())
  np.testing.assert_allclose(np.asarray(every_device), expected, atol=1e-5)
