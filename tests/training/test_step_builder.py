"""The one train step builder (what `train.train_stage` runs and `esrgan_jax.aot` compiles): its abstract
arguments are the real state and batch, and the step lowered from them runs on real arrays."""

import jax
import numpy as np
import optax
from helpers import make_batch, tiny_train_config

from esrgan_jax.training import step_builder, steps


def shapes(tree):
  return jax.tree.map(lambda x: (x.shape, np.dtype(x.dtype)), tree)


def test_abstract_arguments_are_the_real_ones_and_compile_to_the_real_step():
  config = tiny_train_config()
  config.ema_decay = 0.9
  mesh = steps.create_mesh(jax.devices()[:2])
  step = step_builder.build_train_step(config, 'psnr', mesh)
  state = step.init()
  batch = step.place(make_batch(n=4))
  abstract_state, abstract_batch = step_builder.abstract_arguments(config, 'psnr', step, 4)
  assert shapes(abstract_state) == shapes(state) and shapes(abstract_batch) == shapes(batch)
  assert all(x.sharding == step.state_sharding for x in jax.tree.leaves(abstract_state))
  compiled = step.lower(abstract_state, abstract_batch).compile()
  assert compiled.memory_analysis().alias_size_in_bytes > 0  # the state is donated
  new_state, metrics = compiled(state, batch)
  assert int(new_state.step) == 1 and np.isfinite(float(metrics['l_pix']))


def test_fresh_state_takes_the_steps_optimiser_and_sharding():
  """`init` builds the state with the optimiser the step updates with (SGD here: no Adam moments) and the
  generator variables it is given, replicated."""
  config = tiny_train_config()
  mesh = steps.create_mesh(jax.devices()[:2])
  step = step_builder.build_train_step(config, 'gan', mesh, extra_args=({},), optimizer=lambda lr: optax.sgd(lr))
  state = step.init()
  assert jax.tree.leaves((state.g_opt_state, state.d_opt_state)) == []  # Adam's would hold moments
  assert all(x.sharding == step.state_sharding for x in jax.tree.leaves(state))
  variables = jax.tree.map(lambda x: np.full(x.shape, 0.5, x.dtype), {'params': jax.device_get(state.g_params)})
  started = step.init(variables)
  assert all((np.asarray(x) == 0.5).all() for x in jax.tree.leaves((started.g_params, started.ema_params)))
  new_state, _ = step(started, step.place(make_batch(n=4)))
  assert int(new_state.step) == 1


def test_realesrgan_batches_are_gt_patches_with_indices():
  config = tiny_train_config()
  config.train_data.degradation = 'realesrgan'
  batch = step_builder.batch_shapes(config, 'gan', 8)
  assert shapes(batch) == {'hr': ((8, 128, 128, 3), np.float32), 'index': ((8,), np.int32)}


def test_gan_extra_args_are_the_perceptual_params_replicated():
  config = tiny_train_config()
  config.gan.perceptual_weight = 1.0
  mesh = steps.create_mesh(jax.devices()[:2])
  (params,) = step_builder.abstract_extra_args(config, 'gan', mesh)
  assert jax.tree.leaves(params) and step_builder.abstract_extra_args(config, 'psnr', mesh) == ()
  assert step_builder.perceptual_params(tiny_train_config(), 'gan', abstract=True) == {}  # no perceptual loss
