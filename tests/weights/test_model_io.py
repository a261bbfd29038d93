"""Tests for esrgan_jax.weights.model_io: generator files of every arch, old files, perceptual weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import random_params

from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.models.srresnet import MSRResNet
from esrgan_jax.models.srvgg import SRVGGNetCompact
from esrgan_jax.weights import model_io, perceptual


@pytest.mark.parametrize(
  'module',
  [
    MSRResNet(scale=3, num_feat=8, num_block=2),
    RRDBNet(scale=2, num_feat=8, num_block=1, num_grow_ch=4, res_scale=0.5),
    RRDBNet(scale=8, num_feat=8, num_block=1, num_grow_ch=4, esrgan_plus=True),
    SRVGGNetCompact(scale=3, num_feat=8, num_conv=2, act_type='leakyrelu'),
  ],
  ids=lambda module: type(module).__name__,
)
def test_generator_round_trip_keeps_every_field(tmp_path, module):
  params = random_params(module)
  model_io.save_generator(tmp_path / 'g.msgpack', module, params)
  loaded, loaded_params = model_io.load_generator(tmp_path / 'g.msgpack', dtype=jnp.bfloat16)
  assert loaded == module.clone(dtype=jnp.bfloat16)
  assert jax.tree.structure(loaded_params) == jax.tree.structure(params)
  for a, b in zip(jax.tree.leaves(loaded_params), jax.tree.leaves(params)):
    np.testing.assert_array_equal(a, b)


def test_files_written_before_use_bn_still_load(tmp_path):
  config = dict(
    num_in_ch=3, num_out_ch=3, scale=4, num_feat=8, num_block=1, num_grow_ch=4, res_scale=0.2, init_scale=0.1
  )  # the fields the first save_generator stored
  module = RRDBNet(**config)
  model_io.save_model(tmp_path / 'old.msgpack', 'RRDBNet', config, {'params': random_params(module)})
  assert model_io.load_generator(tmp_path / 'old.msgpack')[0] == module


def test_bn_generators_and_other_modules_are_refused(tmp_path):
  module = MSRResNet(num_feat=8, num_block=1, use_bn=True)
  with pytest.raises(ValueError, match='use_bn=True.*fold_batch_norm'):
    model_io.save_generator(tmp_path / 'bn.msgpack', module, {})
  assert not (tmp_path / 'bn.msgpack').exists()
  with pytest.raises(ValueError, match=r'scan_blocks=True holds its blocks stacked.*unstack_blocks'):
    model_io.save_generator(tmp_path / 'scan.msgpack', RRDBNet(num_feat=8, num_block=2, scan_blocks=True), {})
  model_io.save_model(tmp_path / 'vgg.msgpack', 'VGG19Features', {}, {'params': {}})
  with pytest.raises(ValueError, match=r'holds a VGG19Features, not a generator \(RRDBNet, .*SRVGGNetCompact\)'):
    model_io.load_generator(tmp_path / 'vgg.msgpack')


def test_perceptual_params_check_the_arch(tmp_path):
  model_io.save_model(tmp_path / 'vgg.msgpack', 'VGG19Features', {}, {'params': {'conv1_1': {'bias': np.zeros(2)}}})
  assert list(perceptual.load_params('vgg19', tmp_path / 'vgg.msgpack')) == ['conv1_1']
  with pytest.raises(ValueError, match='holds a VGG19Features, not MINCNet weights'):
    perceptual.load_params('minc', tmp_path / 'vgg.msgpack')
  with pytest.raises(ValueError, match="Unknown perceptual network 'VGG16'"):
    perceptual.load_params('VGG16', tmp_path / 'vgg.msgpack')
