"""Tests for esrgan_jax.inference.interpolation: blend values, dtypes, the extrapolation warning, mismatch errors."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import tiny_generator

from esrgan_jax.inference.interpolation import interpolate, sweep_file_name


def hand_params(array_fn=np.asarray, dtype=np.float32) -> tuple[dict, dict]:
  """Two small trees whose 0.8 blend is easy by hand: 0.2 * psnr + 0.8 * gan = kernel [8, 5, 2], bias [0]."""
  psnr = {'conv': {'kernel': array_fn(np.array([0.0, 1.0, -2.0]), dtype), 'bias': array_fn(np.array([4.0]), dtype)}}
  gan = {'conv': {'kernel': array_fn(np.array([10.0, 6.0, 3.0]), dtype), 'bias': array_fn(np.array([-1.0]), dtype)}}
  return psnr, gan


@pytest.mark.parametrize('array_fn', [np.asarray, jnp.asarray], ids=['numpy', 'jax'])
def test_blend_values(array_fn):
  psnr, gan = hand_params(array_fn)
  np.testing.assert_array_equal(interpolate(psnr, gan, 0.0)['conv']['kernel'], [0.0, 1.0, -2.0])
  np.testing.assert_array_equal(interpolate(psnr, gan, 1.0)['conv']['kernel'], [10.0, 6.0, 3.0])
  blend = interpolate(psnr, gan, 0.8)
  np.testing.assert_allclose(blend['conv']['kernel'], [8.0, 5.0, 2.0], rtol=1e-6)
  np.testing.assert_allclose(blend['conv']['bias'], [0.0], atol=1e-6)
  assert jax.tree.structure(blend) == jax.tree.structure(psnr)
  for blended, original in zip(jax.tree.leaves(blend), jax.tree.leaves(psnr)):
    assert type(blended) is type(original) and blended.dtype == np.float32


def test_keeps_bfloat16():
  psnr, gan = hand_params(jnp.asarray, jnp.bfloat16)
  blend = interpolate(psnr, gan, 0.8)
  assert blend['conv']['kernel'].dtype == jnp.bfloat16
  np.testing.assert_array_equal(np.asarray(blend['conv']['kernel'], np.float32), [8.0, 5.0, 2.0])


def test_extrapolation_warns():
  psnr, gan = hand_params()
  with pytest.warns(UserWarning, match=r'alpha=1.5 is outside \[0, 1\].*beyond the GAN model'):
    blend = interpolate(psnr, gan, 1.5)
  np.testing.assert_allclose(blend['conv']['kernel'], [15.0, 8.5, 5.5], rtol=1e-6)  # -0.5 psnr + 1.5 gan
  with pytest.warns(UserWarning, match='beyond the PSNR model'):
    interpolate(psnr, gan, -0.2)
  with warnings.catch_warnings():
    warnings.simplefilter('error')
    interpolate(psnr, gan, 0.5)


def test_structure_mismatch_names_the_key():
  _, params = tiny_generator(4)
  two_blocks = {**params, 'body_1': params['body_0']}  # the tree of the same net with num_block=2
  with pytest.raises(
    ValueError,
    match=r"'body_1/rdb1/conv1/bias' is in the GAN params but not in the PSNR params.*"
    r'must share one architecture.*num_block',
  ):
    interpolate(params, two_blocks, 0.5)
  with pytest.raises(ValueError, match=r"'body_1/rdb1/conv1/bias' is in the PSNR params but not in the GAN"):
    interpolate(two_blocks, params, 0.5)


def test_container_mismatch():
  psnr, gan = hand_params()
  with pytest.raises(ValueError, match='same keys, different containers'):
    interpolate({'w': [psnr['conv']['bias']]}, {'w': (gan['conv']['bias'],)}, 0.5)


def test_shape_and_dtype_mismatch_name_the_key_and_both_shapes():
  psnr, gan = hand_params()
  gan['conv']['kernel'] = np.zeros((4,), np.float32)
  with pytest.raises(
    ValueError,
    match=r"'conv/kernel' is float32\[3\] in the PSNR params but float32\[4\] in the GAN "
    r'params.*same generator config',
  ):
    interpolate(psnr, gan, 0.5)
  psnr, gan = hand_params()
  gan['conv']['bias'] = gan['conv']['bias'].astype(np.float16)
  with pytest.raises(ValueError, match=r"'conv/bias' is float32\[1\] in the PSNR params but float16\[1\]"):
    interpolate(psnr, gan, 0.5)


@pytest.mark.parametrize(
  'alpha, name',
  [
    (0.0, 'interp_00.msgpack'),
    (0.8, 'interp_08.msgpack'),
    (1.0, 'interp_10.msgpack'),
    (0.1 * 6, 'interp_06.msgpack'),
    (0.85, 'interp_0.85.msgpack'),
    (1.2, 'interp_12.msgpack'),
  ],
)
def test_sweep_file_name(alpha, name):
  assert sweep_file_name(alpha) == name
