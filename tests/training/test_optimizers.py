"""Optimiser pieces of a stage: warmup, gradient clipping, accumulation (also through the train loop and its
checkpoints), schedule-free AdamW's evaluation params. Tiny nets on one CPU device, in the steps `step_builder`
builds for train.py."""

import functools
import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import make_batch, tiny_train_config

from esrgan_jax.configs import default
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.training import config_checks, optimizers, step_builder, steps, train
from esrgan_jax.weights import model_io


def test_warmup_is_linear_then_the_unshifted_schedule():
  stage = default.stage_config(schedule='multistep', milestones=(5,), gamma=0.5, warmup_iter=4)
  lr = optimizers.with_warmup(steps.create_learning_rate_fn(stage, 2.0), 2.0, stage.warmup_iter)
  np.testing.assert_allclose([lr(i) for i in range(7)], [0.5, 1.0, 1.5, 2.0, 2.0, 1.0, 1.0])
  # the train loop's lr of each micro-batch step: update i // accum_iter
  stage.accum_iter = 2
  per_step = optimizers.iteration_learning_rate(stage, 2.0, steps.create_learning_rate_fn(stage, 2.0))
  np.testing.assert_allclose([per_step(i) for i in range(6)], [0.5, 0.5, 1.0, 1.0, 1.5, 1.5])
  # the optimiser applies it: Adam's first update is lr * g / (|g| + eps)
  stage.accum_iter = 1
  tx = steps.create_optimizer(stage, 2.0)
  updates, _ = tx.update(jnp.ones(3), tx.init(jnp.zeros(3)))
  np.testing.assert_allclose(updates, -0.5, rtol=1e-6)


def test_grad_clip_scales_the_gradient_to_the_global_norm_before_adam():
  stage = default.stage_config(schedule='constant', grad_clip=1e-8)
  tx = steps.create_optimizer(stage, 0.1)
  grads = {'a': jnp.array([3.0]), 'b': jnp.array([4.0])}  # global norm 5
  updates, _ = tx.update(grads, tx.init(jax.tree.map(jnp.zeros_like, grads)))
  eps = 1e-8  # Adam's: the clipped gradient is small enough for it to show
  for name, g in (('a', 3.0), ('b', 4.0)):
    clipped = g * 1e-8 / 5
    np.testing.assert_allclose(updates[name], -0.1 * clipped / (clipped + eps), rtol=1e-5)


def _train_step(config, stage_name, ema_decay):
  """The stage's step as train.py builds it (`step_builder`), on one device, with `ema_decay`."""
  config.ema_decay = ema_decay
  return step_builder.build_train_step(config, stage_name, steps.create_mesh(jax.devices()[:1]))


def _psnr_states(config, batch, num_steps, split=1):
  """(fresh state, states after each of `num_steps` PSNR steps, each on the batch cut into `split` micro-batches in
  turn, their metrics)."""
  step = _train_step(config, 'psnr', ema_decay=0.5)
  state = step.init()
  initial, states, metrics = jax.device_get(state), [], []
  n = len(batch['lr']) // split
  for _ in range(num_steps):
    for i in range(split):
      state, m = step(state, step.place({k: v[i * n : (i + 1) * n] for k, v in batch.items()}))
      states.append(jax.device_get(state))
      metrics.append(jax.device_get(m))
  return initial, states, metrics


def test_accumulated_micro_batches_update_as_one_batch():
  """Two updates of 2 micro-batches of 4 equal two steps on the batch of 8 (Adam, warmup, clipping): the params, the
  EMA (advanced once per update) and the schedule (counting updates). Between the micro-batches nothing moves. The
  logged gradient norm is the one before clipping."""
  config = tiny_train_config(lr=1e-4, warmup_iter=3, grad_clip=1e-3)
  batch = make_batch(8, gt=32)
  _, whole, whole_metrics = _psnr_states(config, batch, 2)
  config.psnr.accum_iter = 2
  initial, micro, micro_metrics = _psnr_states(config, batch, 2, split=2)
  assert len(micro) == 4
  for start, mid in ((initial, micro[0]), (micro[1], micro[2])):  # the micro-batches that complete no update
    jax.tree.map(np.testing.assert_array_equal, mid.g_params, start.g_params)
    jax.tree.map(np.testing.assert_array_equal, mid.ema_params, start.ema_params)
  close = functools.partial(np.testing.assert_allclose, rtol=0, atol=2e-7)  # updates are ~1e-4 per weight
  for big, small in ((whole[0], micro[1]), (whole[1], micro[3])):
    jax.tree.map(close, small.g_params, big.g_params)
    jax.tree.map(close, small.ema_params, big.ema_params)
  moved = max(
    float(np.abs(a - b).max()) for a, b in zip(jax.tree.leaves(whole[1].g_params), jax.tree.leaves(whole[0].g_params))
  )
  assert moved > 1e-5  # a second update happened (at 2/3 of the lr), far beyond the tolerance
  # the micro-batch losses average to the batch loss; the logged norm is the gradient's before clipping
  np.testing.assert_allclose(
    (micro_metrics[0]['l_pix'] + micro_metrics[1]['l_pix']) / 2, whole_metrics[0]['l_pix'], rtol=1e-5
  )
  generator = steps.create_generator(config)
  loss = lambda p: jnp.mean(jnp.abs(generator.apply({'params': p}, batch['lr'], train=True) - batch['hr']))
  norm = jax.jit(lambda p: optax.tree.norm(jax.grad(loss)(p)))(initial.g_params)
  np.testing.assert_allclose(whole_metrics[0]['grad_norm_g'], norm, rtol=1e-4)
  assert norm > 10 * config.psnr.grad_clip


def test_gan_step_accumulates_gates_g_by_update_and_logs_norms():
  """GAN stage, 2 micro-batches per update, G frozen in update 1 (net_d_init_iters 1), LDL and clipping on: D moves
  on the last micro-batch of each update only, G and the EMA on the last of update 2 only."""
  config = tiny_train_config(lr_g=1e-4, lr_d=1e-4, accum_iter=2, grad_clip=10.0, net_d_init_iters=1, ldl_weight=1.0)
  assert config.gan.schedule == 'constant' and not config.gan.perceptual_weight
  config_checks.check(config)
  step = _train_step(config, 'gan', ema_decay=0.5)
  state = step.init()
  batch = step.place(make_batch(4))
  history = [jax.device_get(state)]
  for _ in range(4):
    state, metrics = step(state, batch)
    history.append(jax.device_get(state))
    assert {'l_g_ldl', 'grad_norm_g', 'grad_norm_d'} <= set(metrics) and metrics['grad_norm_d'] > 0
  same = lambda a, b: all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
  d_moved = [not same(history[i].d_params, history[i - 1].d_params) for i in range(1, 5)]
  g_moved = [not same(history[i].g_params, history[i - 1].g_params) for i in range(1, 5)]
  ema_moved = [not same(history[i].ema_params, history[i - 1].ema_params) for i in range(1, 5)]
  assert d_moved == [False, True, False, True]
  assert g_moved == ema_moved == [False, False, False, True]


def test_resume_mid_accumulation_is_bit_exact(tmp_path):
  """A checkpoint at step 3 of 2-micro-batch updates holds half an accumulated gradient: resuming from it gives the
  same step-4 state and the same exported generator (msgpack and safetensors) as the uninterrupted run."""
  import tiny_config  # pylint: disable=g-import-not-at-top (tests/ is on sys.path under pytest)

  config = tiny_config.get_config()
  config.stages = ('psnr',)
  config.psnr.update(num_steps=4, accum_iter=2)
  config.checkpoint_every_steps = 3
  config.psnr.num_steps = 3
  with pytest.raises(ValueError, match='num_steps .3. must be a multiple of accum_iter .2.'):
    config_checks.check(config)
  config.psnr.num_steps = 4
  train.train_and_evaluate(config, str(tmp_path))
  stage_dir = tmp_path / 'psnr'
  exported = {name: (stage_dir / name).read_bytes() for name in (train.GENERATOR_FILE, 'generator.safetensors')}
  manager = train._checkpoint_manager(stage_dir / 'checkpoints', config)  # pylint: disable=protected-access
  restore = lambda step: manager.restore(step, args=train.ocp.args.Composite(state=train.ocp.args.StandardRestore()))
  final = restore(4)['state']
  assert int(restore(3)['state']['g_opt_state']['mini_step']) == 1  # mid-accumulation
  meta = manager.restore(4, args=train.ocp.args.Composite(meta=train.ocp.args.JsonRestore()))['meta']
  assert meta == {'stage': 'psnr', 'seed': 0, 'scan_blocks': False, 'step': 4}  # what a resume reads, and the step

  shutil.rmtree(stage_dir / 'checkpoints' / '4')
  for name in ('summary.json', *exported):
    (stage_dir / name).unlink()
  train.train_and_evaluate(config, str(tmp_path))
  manager.reload()
  jax.tree.map(np.testing.assert_array_equal, restore(4)['state'], final)
  assert {name: (stage_dir / name).read_bytes() for name in exported} == exported
  history = [json.loads(line)['step'] for line in (stage_dir / 'history.jsonl').read_text().splitlines()]
  assert history == [1, 2, 3, 4]
  assert isinstance(model_io.load_generator(stage_dir / train.GENERATOR_FILE)[0], RRDBNet)


def test_schedule_free_ema_and_exports_use_its_evaluation_params():
  """With schedule-free AdamW the EMA averages `schedule_free_eval_params` (x), not the gradient point y: with
  ema_decay 0 it is exactly x. Also found inside clipping and accumulation."""
  config = tiny_train_config(lr=1e-3, schedule='constant', optimizer='schedule_free_adamw')
  config.psnr.grad_clip = 1.0
  config_checks.check(config)
  step = _train_step(config, 'psnr', ema_decay=0.0)
  state = step.init()
  for seed in range(3):
    state, _ = step(state, step.place(make_batch(4, gt=32, seed=seed)))
  free_state = state.g_opt_state[1]
  assert isinstance(free_state, optax.contrib.ScheduleFreeState)
  expected = optax.contrib.schedule_free_eval_params(free_state, state.g_params)
  jax.tree.map(functools.partial(np.testing.assert_allclose, rtol=1e-6, atol=1e-7), state.ema_params, expected)
  gap = max(
    float(np.abs(a - b).max()) for a, b in zip(jax.tree.leaves(state.ema_params), jax.tree.leaves(state.g_params))
  )
  assert gap > 1e-5

  config.psnr.schedule = 'multistep'
  with pytest.raises(
    ValueError, match="schedule_free_adamw replaces the lr schedule: set config.psnr.schedule='constant'"
  ):
    config_checks.check(config)


def test_eval_params_finds_schedule_free_inside_accumulation():
  stage = default.stage_config(schedule='constant', optimizer='schedule_free_adamw', accum_iter=2, grad_clip=1.0)
  tx = steps.create_optimizer(stage, 0.1)
  params = jnp.array([1.0, -2.0])
  opt_state = tx.init(params)
  for g in ([1.0, 1.0], [0.5, -1.0], [1.0, 1.0], [0.5, -1.0]):
    updates, opt_state = tx.update(jnp.array(g), opt_state, params)
    params = optax.apply_updates(params, updates)
  inner = opt_state.inner_opt_state[1]
  np.testing.assert_array_equal(
    optimizers.eval_params(opt_state, params), optax.contrib.schedule_free_eval_params(inner, params)
  )
  assert optimizers.eval_params(optax.adam(0.1).init(params), params) is params
