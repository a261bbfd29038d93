import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import random_params

from esrgan_jax.models import RRDBNet
from esrgan_jax.models.rrdbnet import stack_blocks, unstack_blocks


def param_count(module, shape=(1, 16, 16, 3)):
  variables = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros(shape))
  return sum(x.size for x in jax.tree.leaves(variables['params']))


def test_param_counts_match_official_models():
  assert param_count(RRDBNet()) == 16_697_987  # RRDB_ESRGAN_x4 / ESRGAN_SRx4_DF2KOST
  assert param_count(RRDBNet(num_block=6)) == 4_467_779  # RealESRGAN_x4plus_anime_6B


@pytest.mark.parametrize('scale,in_ch', [(2, 12), (1, 48)])
def test_pixel_unshuffle_scales_widen_conv_first(scale, in_ch):
  variables = jax.eval_shape(RRDBNet(scale=scale, num_block=1).init, jax.random.key(0), jnp.zeros((1, 16, 16, 3)))
  assert variables['params']['conv_first']['kernel'].shape == (3, 3, in_ch, 64)


@pytest.mark.parametrize('scale', [4, 2, 1])
def test_output_shape(scale):
  net = RRDBNet(scale=scale, num_feat=8, num_block=1, num_grow_ch=4)
  x = jnp.ones((2, 8, 12, 3))
  params = net.init(jax.random.key(0), x)['params']
  assert net.apply({'params': params}, x).shape == (2, 8 * scale, 12 * scale, 3)


def test_init_scales_only_rdb_convs():
  net = RRDBNet(num_block=2)
  params = net.init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))['params']
  rdb_kernel = params['body_0']['rdb1']['conv3']['kernel']  # fan_in = 9 * (64 + 2*32)
  np.testing.assert_allclose(float(rdb_kernel.std()), 0.1 * np.sqrt(2 / (9 * 128)), rtol=0.05)
  np.testing.assert_array_equal(params['body_1']['rdb3']['conv5']['bias'], 0)
  trunk = params['conv_body']['kernel']  # PyTorch default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  np.testing.assert_allclose(float(trunk.std()), 1 / np.sqrt(3 * 9 * 64), rtol=0.05)
  assert float(jnp.abs(params['conv_body']['bias']).max()) > 0


def test_init_scale_is_configurable():
  params = RRDBNet(num_block=1, init_scale=1.0).init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))['params']
  np.testing.assert_allclose(float(params['body_0']['rdb1']['conv1']['kernel'].std()), np.sqrt(2 / (9 * 64)), rtol=0.05)


def test_res_scale_is_used():
  x = jax.random.uniform(jax.random.key(1), (1, 8, 8, 3))
  net = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4)
  params = net.init(jax.random.key(0), x)['params']
  out_a = net.apply({'params': params}, x)
  out_b = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, res_scale=0.5).apply({'params': params}, x)
  assert float(jnp.abs(out_a - out_b).max()) > 1e-6


def test_rejects_indivisible_input_for_scale_1():
  net = RRDBNet(scale=1, num_feat=8, num_block=1, num_grow_ch=4)
  with pytest.raises(ValueError, match='divisible by 4'):
    net.init(jax.random.key(0), jnp.zeros((1, 10, 12, 3)))


def test_rejects_wrong_channels_and_scale():
  with pytest.raises(ValueError, match='3 channels'):
    RRDBNet(num_block=1).init(jax.random.key(0), jnp.zeros((1, 8, 8, 4)))
  with pytest.raises(ValueError, match='scale must be a power of two'):
    RRDBNet(scale=3, num_block=1).init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))
  with pytest.raises(ValueError, match='cannot upscale x2'):
    RRDBNet(scale=2, num_block=1, num_upsample=4).init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))


def test_bfloat16_compute_keeps_float32_params():
  net = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, dtype=jnp.bfloat16)
  x = jax.random.uniform(jax.random.key(1), (1, 8, 8, 3))
  params = net.init(jax.random.key(0), x)['params']
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(params))
  out = net.apply({'params': params}, x)
  assert out.dtype == jnp.bfloat16
  ref = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4).apply({'params': params}, x)
  np.testing.assert_allclose(np.asarray(out, np.float32), ref, atol=0.05)


def test_batch_norm_variant_follows_each_rdb_conv_and_trains_its_stats():
  net = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, use_bn=True)
  x = jax.random.uniform(jax.random.key(1), (2, 8, 8, 3))
  variables = net.init(jax.random.key(0), x)
  rdb = variables['params']['body_0']['rdb2']
  assert sorted(rdb) == [f'{kind}{j}' for kind in ('bn', 'conv') for j in range(1, 6)]
  assert rdb['bn5']['scale'].shape == (8,) and rdb['bn1']['scale'].shape == (4,)
  assert 'bn1' not in variables['params']['body_0'] and 'conv_body' in variables['params']
  out, updates = net.apply(variables, x, train=True, mutable=['batch_stats'])
  assert out.shape == (2, 32, 32, 3)
  stats, new_stats = variables['batch_stats'], updates['batch_stats']
  assert jax.tree.structure(new_stats) == jax.tree.structure(stats)
  assert all(float(jnp.abs(a - b).max()) > 1e-4 for a, b in zip(jax.tree.leaves(new_stats), jax.tree.leaves(stats)))
  eval_out = net.apply(variables, x)  # running statistics: (0, 1) after init
  assert float(jnp.abs(eval_out - out).max()) > 1e-4


def test_without_batch_norm_the_train_flag_changes_nothing():
  net = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4)
  x = jax.random.uniform(jax.random.key(1), (1, 8, 8, 3))
  variables = net.init(jax.random.key(0), x)
  assert list(variables) == ['params']
  np.testing.assert_array_equal(net.apply(variables, x, train=True), net.apply(variables, x))


def test_remat_keeps_params_loss_and_grads():
  """`remat` recomputes each RRDB in the backward pass: the same param tree, loss and grads, and the jaxpr of the
  gradient holds one checkpoint per block."""
  net = RRDBNet(num_feat=8, num_block=2, num_grow_ch=4, use_bn=True)  # BatchNorm: `train` passes through remat
  remat_net = net.clone(remat=True)
  x = jax.random.uniform(jax.random.key(1), (2, 8, 8, 3))
  variables = net.init(jax.random.key(0), x)
  assert jax.tree.structure(remat_net.init(jax.random.key(0), x)) == jax.tree.structure(variables)

  def loss_fn(module):
    def loss(params):
      out = module.apply({**variables, 'params': params}, x, train=True, mutable=['batch_stats'])[0]
      return jnp.mean(jnp.abs(out - 0.5))

    return jax.value_and_grad(loss)

  (loss, grads), (remat_loss, remat_grads) = (jax.jit(loss_fn(m))(variables['params']) for m in (net, remat_net))
  np.testing.assert_allclose(remat_loss, loss, rtol=1e-6)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), remat_grads, grads)
  jaxpr = str(jax.make_jaxpr(loss_fn(remat_net))(variables['params']))
  assert jaxpr.count('checkpoint[') + jaxpr.count('remat') >= 2
  assert 'checkpoint[' not in str(jax.make_jaxpr(loss_fn(net))(variables['params']))


@pytest.mark.parametrize('remat', [False, True], ids=['scan', 'scan_remat'])
def test_scan_blocks_computes_what_the_unrolled_net_does(remat):
  """With the unrolled net's variables stacked: the same output, updated BatchNorm statistics and grads (unstacked),
  also with each scanned block rematerialised."""
  net = RRDBNet(num_feat=8, num_block=3, num_grow_ch=4, use_bn=True)
  scan_net = net.clone(scan_blocks=True, remat=remat)
  x = jax.random.uniform(jax.random.key(1), (2, 8, 8, 3))
  variables = net.init(jax.random.key(0), x)
  stacked = {name: stack_blocks(tree, 3) for name, tree in variables.items()}
  assert jax.tree.structure(stacked) == jax.tree.structure(scan_net.init(jax.random.key(0), x))
  assert stacked['params']['body']['rdb1']['conv1']['kernel'].shape == (3, 3, 3, 8, 4)

  def grad_fn(module, variables):
    def loss(params):
      out, updates = module.apply({**variables, 'params': params}, x, train=True, mutable=['batch_stats'])
      return jnp.mean(jnp.abs(out - 0.5)), (out, updates['batch_stats'])

    return jax.value_and_grad(loss, has_aux=True)

  (loss, (out, stats)), grads = jax.jit(grad_fn(net, variables))(variables['params'])
  (scan_loss, (scan_out, scan_stats)), scan_grads = jax.jit(grad_fn(scan_net, stacked))(stacked['params'])
  np.testing.assert_allclose(scan_loss, loss, rtol=1e-6)
  np.testing.assert_allclose(scan_out, out, rtol=1e-5, atol=1e-6)
  close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
  jax.tree.map(close, unstack_blocks(scan_stats), stats)
  jax.tree.map(close, unstack_blocks(scan_grads), grads)
  assert ('remat' in str(jax.make_jaxpr(grad_fn(scan_net, stacked))(stacked['params']))) == remat


def test_stack_and_unstack_blocks_are_inverse():
  params = random_params(RRDBNet(num_feat=8, num_block=3, num_grow_ch=4))
  stacked = stack_blocks(params, 3)
  assert sorted(stacked) == ['body', 'conv_body', 'conv_first', 'conv_hr', 'conv_last', 'conv_up1', 'conv_up2']
  jax.tree.map(np.testing.assert_array_equal, unstack_blocks(stacked), params)
  jax.tree.map(np.testing.assert_array_equal, stack_blocks(unstack_blocks(stacked), 3), stacked)
  assert stack_blocks({}, 3) == {} and unstack_blocks({}) == {}  # batch_stats of a net without BatchNorm
  with pytest.raises(ValueError, match=r'expected body_0..body_3 and no .body., got keys .*Is num_block \(4\) right'):
    stack_blocks(params, 4)
  with pytest.raises(ValueError, match='already stacked'):
    stack_blocks({**stacked, 'body_0': params['body_0']}, 1)
