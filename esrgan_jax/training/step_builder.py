"""The one train step of a stage, as `train.train_stage` runs it, `esrgan_jax.aot` compiles it and
benchmarks/accelerator.py times it: the step function (PSNR or GAN, on Real-ESRGAN GT patches when the config
degrades in the step), its `jax.jit` with the state replicated, the batch sharded on 'data' and the state donated,
the arguments that follow the batch (the perceptual network's params in the GAN stage), and the stage's fresh state
with the same optimisers and sharding. Real arrays or `jax.ShapeDtypeStruct`s go through the same builder.
"""

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from esrgan_jax import runtime
from esrgan_jax.training.steps import (
  TRAIN_DEGRADATION,
  PSNRState,
  create_discriminator,
  create_generator,
  create_optimizer,
  create_perceptual_network,
  degradation_key,
  degradation_options,
  gan_train_step,
  global_batch,
  init_state,
  on_gt_patches,
  psnr_train_step,
)
from esrgan_jax.weights import perceptual


@dataclasses.dataclass(frozen=True)
class TrainStep:
  """A stage's jitted step `jitted(state, batch, *extra_args) -> (state, metrics)`, its shardings and its state's
  initialiser."""

  jitted: Any  # jax.jit(step_fn, in_shardings=(state, batch, *extras), out_shardings=state, donate_argnums=0)
  state_sharding: NamedSharding  # replicated
  batch_sharding: NamedSharding  # leading (batch) axis over 'data'
  extra_args: tuple  # after the batch: (perceptual params,) in the GAN stage, () in the PSNR stage
  # init(generator_variables=None) -> the fresh state (`steps.init_state`), placed with `state_sharding`
  init: Callable[..., PSNRState] | None

  def __call__(self, state: PSNRState, batch: dict[str, jax.Array]) -> tuple[PSNRState, dict[str, jax.Array]]:
    return self.jitted(state, batch, *self.extra_args)

  def lower(self, state: Any, batch: dict[str, Any]) -> jax.stages.Lowered:
    """The step lowered for `state` and `batch` (arrays or ShapeDtypeStructs with these shardings)."""
    return self.jitted.lower(state, batch, *self.extra_args)

  def place(self, local_batch: dict[str, Any]) -> dict[str, jax.Array]:
    """This process's slice of the global batch (numpy) as global arrays sharded like the step's batch."""
    return global_batch(local_batch, self.batch_sharding)


def step_function(
  config: ml_collections.ConfigDict,
  stage_name: str,
  mesh: jax.sharding.Mesh,
  optimizer: Callable[[float], optax.GradientTransformation] | None = None,
) -> Callable:
  """`step(state, batch, *extra_args)` of the stage with its nets and optimisers bound, for a batch sharded on `mesh`;
  on GT patches (`steps.on_gt_patches`) when `config.train_data.degradation` is 'realesrgan'. `optimizer(base_lr)`
  replaces `create_optimizer(stage, base_lr)` (tests use SGD)."""
  stage = config[stage_name]
  optimizer = optimizer or functools.partial(create_optimizer, stage)
  if stage_name == 'psnr':
    step_fn = functools.partial(
      psnr_train_step,
      generator=create_generator(config),
      tx=optimizer(stage.lr),
      pixel_weight=stage.pixel_weight,
      ema_decay=config.ema_decay,
      log_grad_norm=stage.grad_clip > 0,
    )
  else:
    step_fn = functools.partial(
      gan_train_step,
      generator=create_generator(config),
      discriminator=create_discriminator(config),
      perceptual=create_perceptual_network(config),
      g_tx=optimizer(stage.lr_g),
      d_tx=optimizer(stage.lr_d),
      stage=stage,
      ema_decay=config.ema_decay,
    )
  if config.train_data.degradation == 'realesrgan':
    options = degradation_options(config.scale, config.train_data)
    step_fn = on_gt_patches(step_fn, degradation_key(config.seed, TRAIN_DEGRADATION), options, mesh)
  return step_fn


def perceptual_params(config: ml_collections.ConfigDict, stage_name: str, abstract: bool = False) -> Any:
  """The GAN stage's perceptual network params ({} without a perceptual loss): loaded from `vgg_weights`, or
  their ShapeDtypeStructs when `abstract` (nothing read)."""
  stage = config[stage_name]
  if not stage.perceptual_weight:
    return {}
  if not abstract:
    return perceptual.load_params(stage.perceptual_network, stage.vgg_weights or None)
  sample = jax.ShapeDtypeStruct((1, stage.gt_size, stage.gt_size, 3), jnp.float32)
  return jax.eval_shape(create_perceptual_network(config).init, jax.random.key(0), sample)['params']


def build_train_step(
  config: ml_collections.ConfigDict,
  stage_name: str,
  mesh: jax.sharding.Mesh,
  extra_args: tuple | None = None,
  optimizer: Callable[[float], optax.GradientTransformation] | None = None,
) -> TrainStep:
  """The stage's step jitted over `mesh` (state replicated and donated, batch sharded on 'data'). `extra_args`:
  what follows the batch; None loads the perceptual params (GAN stage) and places them replicated. `optimizer(base_lr)`
  replaces `create_optimizer(stage, base_lr)` in the step and the initial state alike (tests use SGD)."""
  replicated, data = NamedSharding(mesh, P()), NamedSharding(mesh, P('data'))
  if extra_args is None:
    extra_args = () if stage_name == 'psnr' else (jax.device_put(perceptual_params(config, stage_name), replicated),)
  jitted = jax.jit(
    step_function(config, stage_name, mesh, optimizer),
    in_shardings=(replicated, data) + (replicated,) * len(extra_args),
    out_shardings=(replicated, replicated),
    donate_argnums=0,
  )
  lr = config[stage_name].gt_size // config.scale
  init = jax.jit(  # compiled once, unoptimised; its own output buffers, so the state can be donated
    functools.partial(init_state, config, stage_name, optimizer=optimizer),
    out_shardings=replicated,
    compiler_options=runtime.ONE_SHOT_COMPILER_OPTIONS,
  )
  fresh_state = lambda generator_variables=None: init(
    jnp.zeros((1, lr, lr, 3), jnp.float32), generator_variables=generator_variables
  )
  return TrainStep(jitted, replicated, data, tuple(extra_args), fresh_state)


def abstract_extra_args(config: ml_collections.ConfigDict, stage_name: str, mesh: jax.sharding.Mesh) -> tuple:
  """`build_train_step`'s `extra_args` as ShapeDtypeStructs, replicated over `mesh` (nothing read)."""
  if stage_name == 'psnr':
    return ()
  return (with_sharding(perceptual_params(config, stage_name, abstract=True), NamedSharding(mesh, P())),)


def batch_shapes(config: ml_collections.ConfigDict, stage_name: str, global_batch_size: int) -> dict[str, Any]:
  """ShapeDtypeStructs (no sharding) of the global batch the stage's step takes: {'lr', 'hr'} float32 in [0, 1],
  or Real-ESRGAN's GT patches {'hr', 'index': int32} (see `input_pipeline.create_train_dataset`)."""
  gt = config[stage_name].gt_size
  hr = jax.ShapeDtypeStruct((global_batch_size, gt, gt, 3), jnp.float32)
  if config.train_data.degradation == 'realesrgan':
    return {'hr': hr, 'index': jax.ShapeDtypeStruct((global_batch_size,), jnp.int32)}
  lr = gt // config.scale
  return {'lr': jax.ShapeDtypeStruct((global_batch_size, lr, lr, 3), jnp.float32), 'hr': hr}


def state_shapes(config: ml_collections.ConfigDict, stage_name: str, generator_variables: Any = None) -> PSNRState:
  """ShapeDtypeStructs (no sharding) of the stage's train state, as `steps.init_state` makes it."""
  lr = config[stage_name].gt_size // config.scale
  sample_lr = jax.ShapeDtypeStruct((1, lr, lr, 3), jnp.float32)
  return jax.eval_shape(
    functools.partial(init_state, config, stage_name, generator_variables=generator_variables), sample_lr
  )


def with_sharding(tree: Any, sharding: NamedSharding) -> Any:
  """`tree`'s leaves as ShapeDtypeStructs placed with `sharding`."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)


def abstract_arguments(
  config: ml_collections.ConfigDict, stage_name: str, step: TrainStep, global_batch_size: int
) -> tuple[PSNRState, dict[str, Any]]:
  """(state, batch) ShapeDtypeStructs with `step`'s shardings: what `step.lower` takes to compile ahead of time."""
  state = with_sharding(state_shapes(config, stage_name), step.state_sharding)
  batch = with_sharding(batch_shapes(config, stage_name, global_batch_size), step.batch_sharding)
  return state, batch
