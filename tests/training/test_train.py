"""Train steps, schedules and sharding: tiny nets, 8 virtual CPU devices (tests/conftest.py)."""

import functools
import json
import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import pytest
from helpers import make_batch, run_steps, smooth_image, tiny_generator, tiny_train_config, write_image_set
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from PIL import Image

from esrgan_jax import configs
from esrgan_jax.configs import default
from esrgan_jax.data.val_images import create_val_images
from esrgan_jax.degradations import pipeline
from esrgan_jax.inference import strip
from esrgan_jax.models.minc import MINCNet
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.models.srresnet import MSRResNet
from esrgan_jax.models.vgg import VGG19Features
from esrgan_jax.training import config_checks, losses, steps, train
from esrgan_jax.weights import model_io
from esrgan_jax.weights.generator_files import load_generator_file


def tiny_bn_config(**stage_overrides) -> ml_collections.ConfigDict:
  """SRGAN's generator: a tiny MSRResNet with BatchNorm."""
  config = tiny_train_config(**stage_overrides)
  config.model = ml_collections.ConfigDict(dict(arch='MSRResNet', num_feat=8, num_block=1, use_bn=True))
  return config


def test_multistep_schedule_halves_at_milestones():
  stage = default.stage_config(schedule='multistep', milestones=(3, 5), gamma=0.5)
  fn = steps.create_learning_rate_fn(stage, 1.0)
  np.testing.assert_allclose([fn(i) for i in range(7)], [1, 1, 1, 0.5, 0.5, 0.25, 0.25])


def test_cosine_restart_schedule_matches_basicsr_formula():
  stage = default.stage_config(schedule='cosine_restarts', periods=(4, 6), restart_weights=(1.0, 0.5), eta_min=0.1)
  fn = steps.create_learning_rate_fn(stage, 1.0)
  # Steps 0..4 are the first cycle (step 4 reaches eta_min); the second starts at step 5 with offset 1.
  expected = [0.1 + 0.5 * (1.0 - 0.1) * (1 + np.cos(np.pi * t / 4)) for t in range(5)]
  expected += [0.1 + 0.5 * 0.5 * (1.0 - 0.1) * (1 + np.cos(np.pi * t / 6)) for t in range(1, 7)]
  np.testing.assert_allclose([fn(i) for i in range(11)], expected, rtol=1e-6)
  np.testing.assert_allclose(fn(50), 0.1, rtol=1e-6)


def test_create_generator_builds_the_configured_arch():
  config = tiny_bn_config()
  config.scale = 2
  config.half_precision = True
  generator = steps.create_generator(config)
  assert isinstance(generator, MSRResNet)
  assert (generator.scale, generator.num_feat, generator.num_block, generator.use_bn) == (2, 8, 1, True)
  assert generator.dtype == jnp.bfloat16


@pytest.mark.parametrize('lever', ['remat', 'scan_blocks'])
def test_config_levers_reach_rrdbnet_only(lever):
  config = tiny_train_config()
  assert not getattr(steps.create_generator(config), lever)
  config[lever] = True
  assert getattr(steps.create_generator(config), lever)
  assert lever not in model_io.generator_fields(type(steps.create_generator(config)))  # never stored in files
  config = tiny_bn_config()
  config[lever] = True
  with pytest.raises(ValueError, match=f'config.{lever} is for RRDBNet; MSRResNet has no {lever} field'):
    config_checks.check(config)


@pytest.mark.parametrize(
  'stage_name, make_config',
  [('psnr', tiny_train_config), ('gan', tiny_train_config), ('psnr', tiny_bn_config)],
  ids=['psnr', 'gan', 'psnr-msrresnet_bn'],
)
def test_eight_devices_equal_one_device(stage_name, make_config):
  """With a BatchNorm generator too: its batch statistics are those of the global batch."""
  config = make_config()
  (one_state,), (one_metrics,) = run_steps(config, stage_name, jax.devices()[:1], num_steps=1, sgd_lr=0.1)
  (eight_state,), (eight_metrics,) = run_steps(config, stage_name, jax.devices()[:8], num_steps=1, sgd_lr=0.1)
  for k in one_metrics:  # same params and data: only the reduction order differs
    np.testing.assert_allclose(one_metrics[k], eight_metrics[k], rtol=1e-5, atol=1e-6, err_msg=k)
  assert_same_updates(stage_name, config, one_state, eight_state)
  assert int(eight_state.step) == 1


def assert_same_updates(stage_name, config, state_a, state_b):
  """The parameter updates of two runs agree to 1% of each leaf's largest update (a per-device BatchNorm or RaGAN
  mean would be off by tens of percent; backprop through BatchNorm sums many cancelling float32 terms)."""
  init = jax.device_get(steps.init_state(config, stage_name, jnp.zeros((1, 32, 32, 3))))
  fields = ('g_params', 'ema_params', 'g_batch_stats') + (('d_params', 'd_collections') if stage_name == 'gan' else ())
  pick = lambda state: {f: getattr(state, f) for f in fields}
  for (path, a), b, c in zip(
    jax.tree_util.tree_leaves_with_path(pick(state_a)), jax.tree.leaves(pick(state_b)), jax.tree.leaves(pick(init))
  ):
    update_a, update_b = np.asarray(a, np.float64) - c, np.asarray(b, np.float64) - c
    np.testing.assert_allclose(
      update_b, update_a, rtol=0, atol=1e-2 * np.abs(update_a).max() + 1e-7, err_msg=jax.tree_util.keystr(path)
    )


def test_two_processes_equal_one_process(tmp_path):
  """Two local processes (jax.distributed over 127.0.0.1, gloo), 2 CPU devices each, each feeding half the batch;
  the GAN step (its generator half is the PSNR step's computation, and both take their batch the same way)."""
  stage_name = 'gan'
  port = socket.socket()
  port.bind(('127.0.0.1', 0))
  address = f'127.0.0.1:{port.getsockname()[1]}'
  port.close()
  worker = [sys.executable, str(Path(__file__).with_name('distributed_worker.py')), stage_name]
  tests, repo = Path(__file__).resolve().parents[1:3]  # the worker imports helpers (tests/) and esrgan_jax
  env = {**os.environ, 'PYTHONPATH': os.pathsep.join((str(repo), str(tests))), 'JAX_PLATFORMS': 'cpu'}
  procs = [
    subprocess.Popen(
      worker + [str(tmp_path / f'out{i}.pkl'), address, '2', str(i)], env=env, stderr=subprocess.PIPE, text=True
    )
    for i in range(2)
  ]
  for p in procs:
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]
  single = subprocess.run(worker + [str(tmp_path / 'single.pkl')], env=env, capture_output=True, text=True, timeout=600)
  assert single.returncode == 0, single.stderr[-3000:]
  load = lambda name: pickle.loads((tmp_path / name).read_bytes())
  (two_state, two_metrics), (one_state, one_metrics) = load('out0.pkl'), load('single.pkl')
  assert two_metrics['devices'] == 4 and one_metrics['devices'] == 2
  for k in one_metrics['history'][0]:
    np.testing.assert_allclose(two_metrics['history'][0][k], one_metrics['history'][0][k], rtol=1e-5, atol=1e-6)
  assert_same_updates(stage_name, tiny_train_config(), one_state, two_state)


def test_scan_blocks_trains_as_the_unrolled_net():
  """From the same variables (given in the layout of files; the state holds the blocks stacked), `config.scan_blocks`
  takes the same step: in the layout of files, the params and BatchNorm statistics after it match the unrolled run's."""
  config = tiny_train_config()
  config.model.update(num_block=2, use_bn=True)  # BatchNorm: batch statistics are stacked too
  variables = steps.create_generator(config).init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  config.scan_blocks = True
  (state,), (metrics,) = run_steps(config, 'psnr', jax.devices()[:1], 1, 0.1, generator_variables=variables)
  assert 'body' in state.g_params and 'body_0' not in state.g_params
  config.scan_blocks = False
  (unrolled_state,), (unrolled_metrics,) = run_steps(
    config, 'psnr', jax.devices()[:1], 1, 0.1, generator_variables=variables
  )
  for k in metrics:
    np.testing.assert_allclose(metrics[k], unrolled_metrics[k], rtol=1e-5, atol=1e-6, err_msg=k)
  generator = steps.create_generator(config).clone(scan_blocks=True)
  close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  for field in ('g_params', 'ema_params', 'g_batch_stats'):
    module, unstacked = steps.to_file_layout(generator, {field: getattr(state, field)})
    assert not module.scan_blocks
    jax.tree.map(close, unstacked[field], getattr(unrolled_state, field))


def test_scan_blocks_exports_files_of_the_unrolled_layout_and_resumes(tmp_path):
  """A stage trained with `config.scan_blocks` writes a generator file the normal loader reads (body_0, body_1) and
  that computes what the train state's EMA generator does; its checkpoints (blocks stacked) resume with the same
  setting (the other one is told so)."""
  import tiny_config  # pylint: disable=g-import-not-at-top (tests/ is on sys.path under pytest)

  config = tiny_config.get_config()
  config.update(stages=('psnr',), scan_blocks=True)
  config.model.num_block = 2
  config.psnr.num_steps = 2
  train.train_and_evaluate(config, str(tmp_path))
  module, params = model_io.load_generator(tmp_path / 'psnr' / train.GENERATOR_FILE)
  assert isinstance(module, RRDBNet) and not module.scan_blocks and module.num_block == 2
  assert {'body_0', 'body_1'} <= set(params) and 'body' not in params
  ckpt = train._checkpoint_manager(tmp_path / 'psnr' / 'checkpoints', config)  # pylint: disable=protected-access
  restored = ckpt.restore(2, args=ocp.args.Composite(state=ocp.args.StandardRestore()))['state']
  x = jax.random.uniform(jax.random.key(0), (1, 8, 8, 3))
  scan_out = steps.create_generator(config).apply({'params': restored['ema_params']}, x)
  np.testing.assert_allclose(module.apply({'params': params}, x), scan_out, rtol=1e-5, atol=1e-6)

  (tmp_path / 'psnr' / 'summary.json').unlink()  # train two more steps from the step-2 checkpoint
  config.psnr.num_steps = 4
  config.scan_blocks = False
  with pytest.raises(ValueError, match=r'step 2 .* holds the RRDB blocks stacked .*resume with .*scan_blocks=True'):
    train.train_and_evaluate(config, str(tmp_path))
  config.scan_blocks = True
  train.train_and_evaluate(config, str(tmp_path))
  history = [json.loads(line)['step'] for line in (tmp_path / 'psnr' / 'history.jsonl').read_text().splitlines()]
  assert history == [1, 2, 3, 4]


def test_psnr_step_reduces_l1_and_updates_ema():
  config = tiny_train_config(lr=1e-3)
  (*_, state), hist = run_steps(config, 'psnr', jax.devices()[:1], num_steps=8)
  assert hist[-1]['l_pix'] < hist[0]['l_pix']
  ema, params = jax.tree.leaves(state.ema_params), jax.tree.leaves(state.g_params)
  assert any(float(np.abs(e - p).max()) > 0 for e, p in zip(ema, params))


def test_msrresnet_bn_psnr_step_uses_batch_statistics_and_updates_running_ones():
  """G's BatchNorm normalises by the batch's statistics in training; its running mean moves by torch's momentum 0.1
  from 0 towards the batch mean of the conv before it. The L1 loss goes down with BN too."""
  config = tiny_bn_config(lr=1e-3)
  init = jax.device_get(steps.init_state(config, 'psnr', jnp.zeros((1, 32, 32, 3))))
  assert set(init.g_batch_stats['body_0']) == {'bn1', 'bn2'}
  (state1, *_), hist = run_steps(config, 'psnr', jax.devices()[:1], num_steps=6)
  assert hist[-1]['l_pix'] < hist[0]['l_pix']
  _, captured = steps.create_generator(config).apply(
    {'params': init.g_params, 'batch_stats': init.g_batch_stats},
    make_batch()['lr'],
    train=True,
    capture_intermediates=True,
    mutable=['intermediates', 'batch_stats'],
  )
  conv1 = np.asarray(captured['intermediates']['body_0']['conv1']['__call__'][0], np.float64)
  np.testing.assert_allclose(
    state1.g_batch_stats['body_0']['bn1']['mean'], 0.1 * conv1.mean((0, 1, 2)), rtol=1e-4, atol=1e-7
  )
  np.testing.assert_allclose(
    state1.g_batch_stats['body_0']['bn1']['var'], 0.9 + 0.1 * conv1.var((0, 1, 2), ddof=1), rtol=1e-4
  )


def test_gan_step_updates_both_nets_and_gates_generator():
  """G stays while it is frozen and moves when it is updated; its BatchNorm statistics move in both (BasicSR runs G
  in train mode every iteration)."""
  config = tiny_bn_config()
  config.gan.net_d_init_iters = 1  # BasicSR counts iterations from 1: G frozen at iteration 1, updated at 2
  init = jax.device_get(jax.jit(functools.partial(steps.init_state, config, 'gan'))(jnp.zeros((1, 32, 32, 3))))
  (state1, state2), hist = run_steps(config, 'gan', jax.devices()[:1], num_steps=2)
  same = lambda a, b: all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
  assert same(state1.g_params, init.g_params) and not same(state1.g_batch_stats, init.g_batch_stats)
  assert not same(state1.d_params, init.d_params)
  assert not same(state2.g_params, init.g_params) and not same(state2.g_batch_stats, init.g_batch_stats)
  assert not same(state1.d_collections, init.d_collections)
  assert {'l_g_pix', 'l_g_gan', 'l_d', 'out_d_real', 'out_d_fake'} <= set(hist[0])


def he_scaled(params):
  """Random conv weights rescaled from PyTorch's default init to He's, biases zeroed, so that features deep in a
  random VGG still depend on the input (PyTorch's init shrinks the signal ~6x per layer)."""
  return jax.tree_util.tree_map_with_path(
    lambda path, x: x * np.sqrt(6.0) if path[-1].key == 'kernel' else jnp.zeros_like(x), params
  )


def one_gan_step(config, perceptual_params=None, n=2):
  """(state before, metrics) of one jitted GAN step of `config` on a random batch of `n`."""
  state = steps.init_state(config, 'gan', jnp.zeros((1, 32, 32, 3)))
  step = jax.jit(
    functools.partial(
      steps.gan_train_step,
      generator=steps.create_generator(config),
      discriminator=steps.create_discriminator(config),
      perceptual=steps.create_perceptual_network(config),
      g_tx=steps.create_optimizer(config.gan, 1e-4),
      d_tx=steps.create_optimizer(config.gan, 1e-4),
      stage=config.gan,
      ema_decay=0.9,
    )
  )
  return state, step(state, make_batch(n=n), perceptual_params or {})[1]


def sr_of(config, state, n=2):
  """G's train-mode output on `make_batch(n)` from the state's params (what the step's G pass computes)."""
  return steps.create_generator(config).apply({'params': state.g_params}, make_batch(n=n)['lr'], train=True)


@pytest.mark.parametrize('gan_type', ['ragan', 'vanilla'])
def test_gan_step_uses_the_configured_gan_loss(gan_type):
  """l_g_gan and l_d match the loss formulas on D's train-mode logits of the HR batch and the SR batch."""
  config = tiny_train_config()
  config.gan.gan_type = gan_type
  state, metrics = one_gan_step(config)
  d = lambda x: steps.create_discriminator(config).apply(
    {'params': state.d_params, **state.d_collections}, x, train=True, mutable=['batch_stats']
  )[0]
  real, fake = d(make_batch(n=2)['hr']), d(sr_of(config, state))
  if gan_type == 'ragan':
    l_g, l_d = losses.ragan_generator_loss(real, fake), losses.ragan_discriminator_loss(real, fake)
  else:
    l_g, l_d = losses.vanilla_generator_loss(fake), losses.vanilla_discriminator_loss(real, fake)
  np.testing.assert_allclose(metrics['l_g_gan'], config.gan.gan_weight * l_g, rtol=1e-4)
  np.testing.assert_allclose(metrics['l_d'], l_d, rtol=1e-4)


def test_gan_step_perceptual_layer_relu5_4_is_post_activation():
  """SRGAN's relu5_4 and ESRGAN's conv5_4 are different features of the same VGG19; the step uses the named one."""
  config = tiny_train_config()
  config.gan.perceptual_weight = 1.0
  config.gan.perceptual_layers = {'relu5_4': 1.0}  # assigned: ConfigDict.update would merge it with conv5_4
  vgg = VGG19Features(layers=('conv5_4', 'relu5_4'))
  vgg_params = he_scaled(vgg.init(jax.random.key(3), jnp.zeros((1, 16, 16, 3)))['params'])
  state, metrics = one_gan_step(config, vgg_params, n=1)
  sr_feats, hr_feats = (
    vgg.apply({'params': vgg_params}, sr_of(config, state, n=1)),
    vgg.apply({'params': vgg_params}, make_batch(n=1)['hr']),
  )
  l1 = {k: losses.l1_loss(sr_feats[k], hr_feats[k]) for k in ('conv5_4', 'relu5_4')}
  np.testing.assert_allclose(metrics['l_g_percep'], l1['relu5_4'], rtol=1e-3)
  assert abs(float(l1['relu5_4']) - float(l1['conv5_4'])) > 1e-2 * float(l1['conv5_4'])
  np.testing.assert_array_equal(sr_feats['relu5_4'], np.maximum(sr_feats['conv5_4'], 0))


def test_gan_step_with_minc_perceptual_loss():
  config = tiny_train_config()
  config.gan.update(perceptual_weight=0.5, perceptual_network='minc')
  config.gan.perceptual_layers = {'conv53': 1.0}
  config_checks.check(config)
  minc = MINCNet()
  minc_params = he_scaled(minc.init(jax.random.key(4), jnp.zeros((1, 16, 16, 3)))['params'])
  state, metrics = one_gan_step(config, minc_params, n=1)
  expected = losses.l1_loss(
    minc.apply({'params': minc_params}, sr_of(config, state, n=1))['conv53'],
    minc.apply({'params': minc_params}, make_batch(n=1)['hr'])['conv53'],
  )
  assert float(expected) > 0
  np.testing.assert_allclose(metrics['l_g_percep'], 0.5 * expected, rtol=1e-3)


def test_load_pretrained_generator_checks_arch_and_every_field(tmp_path):
  """A BN config starts from the unfolded file (params + batch_stats); arch and field mismatches are named."""
  config = tiny_bn_config()
  generator = steps.create_generator(config)
  variables = generator.init(jax.random.key(1), jnp.zeros((1, 8, 8, 3)))
  fields = {f: getattr(generator, f) for f in model_io.generator_fields(MSRResNet)}
  model_io.save_model(tmp_path / 'psnr' / train.BN_GENERATOR_FILE, 'MSRResNet', fields, variables)
  loaded = train.load_pretrained_generator(config, tmp_path)
  assert jax.tree.all(jax.tree.map(np.array_equal, loaded, jax.device_get(variables)))
  config.model.num_block = 2
  with pytest.raises(ValueError, match=r"does not match .*'num_block': 'file 1 vs config 2'"):
    train.load_pretrained_generator(config, tmp_path)
  config = tiny_train_config()
  config.gan.pretrained = str(tmp_path / 'psnr' / train.BN_GENERATOR_FILE)
  with pytest.raises(ValueError, match='is a MSRResNet, but config.model.arch is RRDBNet'):
    train.load_pretrained_generator(config, tmp_path)
  config.gan.pretrained = ''
  with pytest.raises(FileNotFoundError, match='psnr/generator.msgpack does not exist'):
    train.load_pretrained_generator(config, tmp_path)


def test_train_stage_trains_the_step_builders_step(tmp_path, monkeypatch):
  """train_stage takes its step from `step_builder.build_train_step(config, stage, mesh)` with nothing replaced (no
  extra arguments or optimiser of its own): the step benchmarks/accelerator.py times and esrgan_jax.aot compiles."""
  calls = []

  def build(*args, **kwargs):
    calls.append((args, kwargs))
    raise InterruptedError

  monkeypatch.setattr(train.step_builder, 'build_train_step', build)
  config = tiny_train_config()
  with pytest.raises(InterruptedError):
    train.train_stage(config, 'psnr', tmp_path)
  [((got_config, stage_name, mesh), kwargs)] = calls
  assert got_config is config and stage_name == 'psnr' and not kwargs
  assert mesh.axis_names == ('data',) and mesh.devices.size == jax.device_count()


def test_restore_reads_checkpoints_with_the_old_meta_fields(tmp_path):
  """Checkpoints written before `best_val_psnr` and `data_position` left the meta still resume; a layout that is
  not the config's is refused."""
  manager = train._checkpoint_manager(tmp_path, tiny_train_config())  # pylint: disable=protected-access
  saved = {'step': jnp.array(3, jnp.int32), 'g_params': {'w': jnp.arange(4, dtype=jnp.float32)}}
  old_meta = {'stage': 'psnr', 'step': 3, 'seed': 0, 'data_position': 3, 'best_val_psnr': 21.5, 'scan_blocks': False}
  manager.save(3, args=ocp.args.Composite(state=ocp.args.StandardSave(saved), meta=ocp.args.JsonSave(old_meta)))
  manager.wait_until_finished()
  fresh = {'step': jnp.array(0, jnp.int32), 'g_params': {'w': jnp.zeros(4, jnp.float32)}}
  restored = train.restore_latest(manager, fresh, scan_blocks=False, stage_name='psnr')
  assert int(restored['step']) == 3
  np.testing.assert_array_equal(restored['g_params']['w'], saved['g_params']['w'])
  with pytest.raises(ValueError, match='holds the RRDB blocks unstacked'):
    train.restore_latest(manager, fresh, scan_blocks=True, stage_name='psnr')


def test_non_finite_loss_stops_with_last_good_checkpoint(tmp_path):
  import tiny_config  # pylint: disable=g-import-not-at-top (tests/ is on sys.path under pytest)

  config = tiny_config.get_config()
  config.stages = ('psnr',)
  config.psnr.lr = 1e30  # Adam moves every weight by ~lr: the second forward pass overflows
  config.checkpoint_every_steps = 1
  with pytest.raises(train.NonFiniteLossError, match=r'Non-finite loss at step 2.*last good checkpoint is step 1'):
    train.train_and_evaluate(config, str(tmp_path))
  assert sorted(p.name for p in (tmp_path / 'psnr' / 'checkpoints').iterdir() if p.name.isdigit()) == ['1']
  assert not (tmp_path / 'psnr' / 'summary.json').exists()


def test_checkpoints_keep_latest_and_best_by_val_psnr(tmp_path):

  config = tiny_train_config()
  config.keep_checkpoints = 2
  manager = train._checkpoint_manager(tmp_path, config)  # pylint: disable=protected-access
  for step, psnr in [(1, 30.0), (2, 35.0), (3, 31.0), (4, None), (5, None)]:
    manager.save(
      step,
      args=ocp.args.Composite(state=ocp.args.StandardSave({'x': np.full(2, step)})),
      metrics={'val_psnr': psnr} if psnr else None,
    )
    manager.wait_until_finished()
  assert manager.all_steps() == [2, 4, 5]


def test_half_precision_step_keeps_float32_params_and_losses():
  config = tiny_train_config(lr=1e-3)
  config.half_precision = True
  (state,), (metrics,) = run_steps(config, 'psnr', jax.devices()[:1], num_steps=1)
  assert steps.create_generator(config).dtype == jnp.bfloat16
  assert metrics['l_pix'].dtype == np.float32 and np.isfinite(metrics['l_pix'])
  assert all(p.dtype == np.float32 for p in jax.tree.leaves(state.g_params))


def test_unet_discriminator_gan_step_threads_the_spectral_state():
  """Real-ESRGAN's stage 2: vanilla GAN loss against the U-Net D. Each D pass (G step on SR, then D step on the real
  images batch['gan_hr'] and on SR) runs one power iteration: the losses are the formulas on the logits of those
  passes in that order, and the state carries the spectral vectors of the last one."""
  config = tiny_train_config()
  config.discriminator.update(arch='UNetDiscriminatorSN', num_feat=4)
  config.gan.update(gan_type='vanilla', gan_weight=0.1, gt_size=32)
  config_checks.check(config)
  state = jax.jit(functools.partial(steps.init_state, config, 'gan'))(
    jnp.zeros((1, 8, 8, 3))
  )  # eager: 100s of compiles
  assert set(state.d_collections) == {'spectral'}
  batch = {**make_batch(n=2, gt=32), 'gan_hr': make_batch(n=2, gt=32, seed=1)['hr']}
  generator, discriminator = steps.create_generator(config), steps.create_discriminator(config)
  step = functools.partial(
    steps.gan_train_step,
    generator=generator,
    discriminator=discriminator,
    perceptual=None,
    g_tx=steps.create_optimizer(config.gan, 1e-4),
    d_tx=steps.create_optimizer(config.gan, 1e-4),
    stage=config.gan,
    ema_decay=0.9,
  )
  new_state, metrics = jax.jit(step)(state, batch, {})

  @jax.jit
  def d_pass(collections, x):
    return discriminator.apply({'params': state.d_params, **collections}, x, train=True, mutable=['spectral'])

  sr = jax.jit(functools.partial(generator.apply, train=True))({'params': state.g_params}, batch['lr'])
  fake_g, after_g = d_pass(state.d_collections, sr)
  real, after_real = d_pass(after_g, batch['gan_hr'])
  fake, after_fake = d_pass(after_real, sr)
  np.testing.assert_allclose(metrics['l_g_gan'], 0.1 * losses.vanilla_generator_loss(fake_g), rtol=1e-4)
  np.testing.assert_allclose(metrics['l_d'], losses.vanilla_discriminator_loss(real, fake), rtol=1e-4)
  np.testing.assert_allclose(metrics['out_d_real'], np.mean(real), rtol=1e-4, atol=1e-6)
  for ours, expected, before in zip(
    jax.tree.leaves(new_state.d_collections), jax.tree.leaves(after_fake), jax.tree.leaves(state.d_collections)
  ):
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)
    assert not np.allclose(ours, before, atol=1e-3)


@pytest.mark.parametrize(
  'name', ['realesrnet_x4plus', 'realesrgan_x4plus', 'realesrgan_demo', 'realesrgan_x4plus_ldl', 'realesrgan_ldl_demo']
)
def test_realesrgan_configs_validate_and_hold_the_recipe(name):
  """Real-ESRGAN's train_realesrnet_x4plus.yml / train_realesrgan_x4plus.yml facts; LDL's weight 1."""
  config = configs.load_config_file(Path(train.__file__).parents[1] / 'configs' / f'{name}.py')
  config_checks.check(config)
  assert config.gan.ldl_weight == (1.0 if 'ldl' in name else 0.0)
  assert config.train_data.degradation == config.val_data.degradation == 'realesrgan'
  assert config.train_data.jpeg_impl == config.val_data.jpeg_impl == 'diffjpeg'  # BasicSR's DiffJPEG
  assert steps.degradation_options(4, config.train_data).draws == 'per_batch'  # as RealESRGANModel.feed_data
  assert config.train_data.sharpen_gt and config.discriminator.arch == 'UNetDiscriminatorSN'
  assert (config.gan.gan_type, config.gan.gan_weight, config.gan.pixel_weight) == ('vanilla', 0.1, 1.0)
  assert config.psnr.best_metric == config.gan.best_metric == 'val_niqe'
  if name.endswith('demo'):
    assert config.stages == ('psnr', 'gan')
    return
  assert dict(config.gan.perceptual_layers) == {
    'conv1_2': 0.1,
    'conv2_2': 0.1,
    'conv3_4': 1.0,
    'conv4_4': 1.0,
    'conv5_4': 1.0,
  }
  assert (config.psnr.lr, config.psnr.num_steps, config.gan.lr_g, config.gan.lr_d, config.gan.num_steps) == (
    2e-4,
    1_000_000,
    1e-4,
    1e-4,
    400_000,
  )
  assert config.psnr.batch_size == config.gan.batch_size == 48 and config.gan.gt_size == 256
  assert (config.ema_decay, config.gan.perceptual_weight, config.discriminator.num_feat) == (0.999, 1.0, 64)
  assert config.stages == (('psnr',) if name == 'realesrnet_x4plus' else ('gan',))


def test_in_step_degradation_is_per_example_and_sharded_like_the_step():
  """`on_gt_patches` on 8 devices (one example each) gives every example the degradation of (key, its index) alone,
  with the batch's shared draws (default 'per_batch') from the key of the global batch's smallest index on every
  device, wherever it sits in the batch; the targets are the sharpened GT and D's real images the GT as it is."""
  options = steps.degradation_options(4, default.data_config())
  key = steps.degradation_key(0, steps.TRAIN_DEGRADATION)
  hr = make_batch(gt=32)['hr']
  alone = jax.jit(pipeline.degrade, static_argnums=2)
  expected = [alone(jax.random.fold_in(key, i), x, options, jax.random.fold_in(key, 0)) for i, x in enumerate(hr)]
  mesh = steps.create_mesh(jax.devices()[:8])
  replicated, data = NamedSharding(mesh, P()), NamedSharding(mesh, P('data'))
  passthrough = steps.on_gt_patches(lambda state, batch: (state, batch), key, options, mesh)
  step = jax.jit(passthrough, in_shardings=(replicated, data))
  perm = np.array([5, 0, 7, 1, 2, 6, 3, 4])
  for order in (np.arange(8), perm):
    _, batch = jax.device_get(step(jnp.zeros(()), {'hr': hr[order], 'index': np.arange(8, dtype=np.int32)[order]}))
    for position, example in enumerate(order):
      np.testing.assert_array_equal(batch['lr'][position], expected[example])
    np.testing.assert_array_equal(batch['gan_hr'], hr[order])
    assert not np.allclose(batch['hr'], hr[order], atol=1e-3)  # USM-sharpened


def test_realesrgan_run_validates_on_degraded_inputs_and_writes_the_strip(tmp_path):
  """Two PSNR steps on GT patches degraded in the step; validation on the degraded image (bicubic of it scores below
  bicubic of the clean LR); WORKDIR/strip.png holds LR | bicubic | the trained generator."""
  import tiny_config  # pylint: disable=g-import-not-at-top (tests/ is on sys.path under pytest)

  config = tiny_config.get_config()
  config.stages = ('psnr',)
  config.train_data.degradation = config.val_data.degradation = 'realesrgan'
  config.psnr.update(num_steps=2, gt_size=32)
  config.val_data.update(source='folder', hr_dir=str(write_image_set(tmp_path / 'val', {'v': smooth_image(32, 32)})))
  summary = train.train_and_evaluate(config, str(tmp_path / 'run'))['psnr']
  clean = train.bicubic_metrics(create_val_images(config.val_data, scale=4), 4)['val_psnr']
  assert summary['steps'] == 2 and summary['val_psnr_bicubic'] < clean - 1
  assert train.write_strip(config, tmp_path / 'run') == {}  # too small for NIQE
  strip_image = np.asarray(Image.open(tmp_path / 'run' / train.STRIP_FILE))
  assert strip_image.shape == (32 + strip.CAPTION_HEIGHT, 3 * 32 + 2 * strip.GAP, 3)


def test_export_generator_writes_msgpack_and_basicsr_safetensors(tmp_path):
  """A finished stage's generator also as `generator.safetensors`: BasicSR's key names in torch layout (what spandrel
  and chaiNNer load), read back to the same generator by our loader."""
  import safetensors.torch  # pylint: disable=g-import-not-at-top

  module, params = tiny_generator(4)
  train.export_generator(tmp_path, module, params)
  tensors = safetensors.torch.load_file(tmp_path / train.GENERATOR_SAFETENSORS_FILE)
  assert {'conv_first.weight', 'body.0.rdb1.conv1.weight', 'conv_up2.bias', 'conv_last.weight'} <= set(tensors)
  assert tuple(tensors['conv_first.weight'].shape) == (8, 3, 3, 3)  # OIHW
  x = jax.random.uniform(jax.random.key(0), (1, 8, 8, 3))
  for path in (tmp_path / train.GENERATOR_FILE, tmp_path / train.GENERATOR_SAFETENSORS_FILE):
    loaded, loaded_params = load_generator_file(path)
    np.testing.assert_allclose(loaded.apply({'params': loaded_params}, x), module.apply({'params': params}, x))
