"""The training step functions and what they need, pure and jit-able: states, networks, optimisers, one PSNR (L1)
step and one GAN step (BasicSR's ESRGANModel / SRGANModel), the device mesh. No TensorFlow and no ml_collections
(configs need only attribute access): accelerator scripts import this without the tf.data pipeline.

Data-parallel over all devices of all processes: one `jax.jit` step over a 1-D `Mesh` ('data'), the batch sharded
on its leading axis and the train state replicated. Batch statistics and the RaGAN means are taken over the global
batch, so N devices compute what one device would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from jax.sharding import NamedSharding

from esrgan_jax import runtime
from esrgan_jax.models import rrdbnet
from esrgan_jax.models.discriminator import VGGStyleDiscriminator
from esrgan_jax.training import losses
from esrgan_jax.weights import model_io, perceptual

if TYPE_CHECKING:  # configs are ConfigDicts; the step functions need only attribute access (no ml_collections import)
  import ml_collections


@struct.dataclass
class PSNRState:
  step: jax.Array
  g_params: Any
  g_opt_state: Any
  ema_params: Any
  g_batch_stats: Any  # G's BatchNorm running statistics; {} for generators without BatchNorm


@struct.dataclass
class GANState(PSNRState):
  d_params: Any
  d_batch_stats: Any
  d_opt_state: Any


def create_generator(config: ml_collections.ConfigDict) -> nn.Module:
  """`model_io.GENERATOR_ARCHS[config.model.arch]` with `config.scale`, the other `config.model` fields and the
  compute dtype. Raises ValueError for an unknown arch or a field the arch lacks."""
  fields = config.model.to_dict()
  arch = fields.pop('arch')
  if arch not in model_io.GENERATOR_ARCHS:
    raise ValueError(f'config.model.arch must be one of {sorted(model_io.GENERATOR_ARCHS)}, got {arch!r}.')
  cls = model_io.GENERATOR_ARCHS[arch]
  allowed = set(model_io.generator_fields(cls)) - {'scale'}
  unknown = sorted(set(fields) - allowed)
  if unknown:
    raise ValueError(
      f'config.model.{unknown[0]} is not a field of {arch}; {arch} takes {", ".join(sorted(allowed))} '
      f'(config.scale sets the scale). To change the arch, replace config.model wholesale (e.g. '
      f'default_config.compact_model() for SRVGGNetCompact, as configs/compact.py does).'
    )
  levers = {name: True for name in ('remat', 'scan_blocks') if config.get(name)}
  for name in levers:
    if not hasattr(cls, name):
      raise ValueError(f'config.{name} is for RRDBNet; {arch} has no {name} field. Set config.{name}=False.')
  return runtime.for_platform(cls(scale=config.scale, dtype=compute_dtype(config), **fields, **levers))


def file_generator(generator: nn.Module) -> nn.Module:
  """`generator` as model files and converters describe it: without `scan_blocks` (blocks `body_0`..)."""
  return generator.clone(scan_blocks=False) if getattr(generator, 'scan_blocks', False) else generator


def to_train_layout(generator: nn.Module, variables: dict[str, Any]) -> dict[str, Any]:
  """Generator variables {'params'[, 'batch_stats']} in the layout of files (`file_generator`'s) -> the layout
  `generator` trains with: the RRDB blocks stacked (`rrdbnet.stack_blocks`) if it scans them, else unchanged."""
  if not getattr(generator, 'scan_blocks', False):
    return variables
  return {name: rrdbnet.stack_blocks(tree, generator.num_block) for name, tree in variables.items()}


def to_file_layout(generator: nn.Module, variables: dict[str, Any]) -> tuple[nn.Module, dict[str, Any]]:
  """Inverse of `to_train_layout`: (`file_generator(generator)`, `variables` with the RRDB blocks unstacked), the
  pair that saving, converters, BatchNorm folding and validation take."""
  if not getattr(generator, 'scan_blocks', False):
    return generator, variables
  return file_generator(generator), {name: rrdbnet.unstack_blocks(tree) for name, tree in variables.items()}


def create_perceptual_network(config: ml_collections.ConfigDict) -> nn.Module:
  """The perceptual loss's feature extractor: x [B, H, W, 3] in [0, 1] -> {layer: features}."""
  module = perceptual.network(config.gan.perceptual_network).module
  if module.__name__ == 'VGG19Features':
    return module(layers=tuple(config.gan.perceptual_layers), dtype=compute_dtype(config))
  return module(dtype=compute_dtype(config))


def create_discriminator(config: ml_collections.ConfigDict) -> VGGStyleDiscriminator:
  return VGGStyleDiscriminator(
    num_feat=config.discriminator.num_feat, input_size=config.gan.gt_size, dtype=compute_dtype(config)
  )


def compute_dtype(config: ml_collections.ConfigDict) -> Any:
  return jnp.bfloat16 if config.half_precision else None


def create_learning_rate_fn(stage: ml_collections.ConfigDict, base_lr: float) -> optax.Schedule:
  """lr per step (0-based). multistep: x`gamma` from each milestone on (torch MultiStepLR); cosine_restarts:
  BasicSR's CosineAnnealingRestartLR, `eta_min + w * (base - eta_min) * (1 + cos(pi * t / period)) / 2`."""
  if stage.schedule == 'constant':
    return optax.constant_schedule(base_lr)
  if stage.schedule == 'multistep':
    return optax.piecewise_constant_schedule(base_lr, {int(m): stage.gamma for m in stage.milestones})
  pieces = []
  for period, weight in zip(stage.periods, stage.restart_weights, strict=True):
    peak = stage.eta_min + weight * (base_lr - stage.eta_min)
    pieces.append(optax.cosine_decay_schedule(peak, period, alpha=stage.eta_min / peak))
  return optax.join_schedules(pieces, list(np.cumsum(stage.periods)[:-1]))


def create_optimizer(stage: ml_collections.ConfigDict, base_lr: float) -> optax.GradientTransformation:
  return optax.adam(create_learning_rate_fn(stage, base_lr), b1=stage.b1, b2=stage.b2)


def _ema(params: Any, ema_params: Any, decay: float) -> Any:
  return optax.incremental_update(params, ema_params, step_size=1.0 - decay)


def _generator_train_apply(
  generator: nn.Module, params: Any, batch_stats: Any, lr_img: jax.Array
) -> tuple[jax.Array, Any]:
  """G in train mode: (SR batch, updated batch_stats); a generator without BatchNorm ({} stats) keeps them."""
  if not batch_stats:
    return generator.apply({'params': params}, lr_img, train=True), batch_stats
  sr, updates = generator.apply(
    {'params': params, 'batch_stats': batch_stats}, lr_img, train=True, mutable=['batch_stats']
  )
  return sr, updates['batch_stats']


def psnr_train_step(
  state: PSNRState,
  batch: dict[str, jax.Array],
  *,
  generator: nn.Module,
  tx: optax.GradientTransformation,
  pixel_weight: float,
  ema_decay: float,
) -> tuple[PSNRState, dict[str, jax.Array]]:
  """One L1 step. batch: {'lr': [B, h, w, 3], 'hr': [B, h*scale, w*scale, 3]} in [0, 1]."""

  def loss_fn(params):
    sr, batch_stats = _generator_train_apply(generator, params, state.g_batch_stats, batch['lr'])
    return pixel_weight * losses.l1_loss(sr, batch['hr']), batch_stats

  (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.g_params)
  updates, opt_state = tx.update(grads, state.g_opt_state, state.g_params)
  params = optax.apply_updates(state.g_params, updates)
  new_state = state.replace(
    step=state.step + 1,
    g_params=params,
    g_opt_state=opt_state,
    ema_params=_ema(params, state.ema_params, ema_decay),
    g_batch_stats=batch_stats,
  )
  return new_state, {'l_pix': loss}


def gan_train_step(
  state: GANState,
  batch: dict[str, jax.Array],
  perceptual_params: Any,
  *,
  generator: nn.Module,
  discriminator: VGGStyleDiscriminator,
  perceptual: nn.Module | None,
  g_tx: optax.GradientTransformation,
  d_tx: optax.GradientTransformation,
  stage: ml_collections.ConfigDict,
  ema_decay: float,
) -> tuple[GANState, dict[str, jax.Array]]:
  """One GAN step as BasicSR's ESRGANModel (`stage.gan_type` 'ragan') or SRGANModel ('vanilla'): the G step (D
  frozen but in train mode; D sees the HR batch too for RaGAN only), then the D step on the same SR output; both from
  the pre-step parameters. G (and its BatchNorm statistics) is updated only when `(step+1) % net_d_iters == 0` and
  `step+1 > net_d_init_iters` (BasicSR counts iterations from 1); D every step."""
  lr_img, hr = batch['lr'], batch['hr']

  def d_apply(params, batch_stats, x):
    logits, updates = discriminator.apply(
      {'params': params, 'batch_stats': batch_stats}, x, train=True, mutable=['batch_stats']
    )
    return logits.astype(jnp.float32), updates['batch_stats']

  def g_loss_fn(g_params):
    sr, g_batch_stats = _generator_train_apply(generator, g_params, state.g_batch_stats, lr_img)
    l_pix = stage.pixel_weight * losses.l1_loss(sr, hr)
    l_percep = jnp.zeros((), jnp.float32)
    if stage.perceptual_weight:
      features_fn = lambda x: perceptual.apply({'params': perceptual_params}, x)
      l_percep = stage.perceptual_weight * losses.perceptual_loss(features_fn, sr, hr, stage.perceptual_layers)
    if stage.gan_type == 'ragan':
      real_logits, batch_stats = d_apply(state.d_params, state.d_batch_stats, hr)
      fake_logits, batch_stats = d_apply(state.d_params, batch_stats, sr)
      l_gan = losses.ragan_generator_loss(real_logits, fake_logits)
    else:
      fake_logits, batch_stats = d_apply(state.d_params, state.d_batch_stats, sr)
      l_gan = losses.vanilla_generator_loss(fake_logits)
    l_gan = stage.gan_weight * l_gan
    total = l_pix + l_percep + l_gan
    return total, (
      sr,
      g_batch_stats,
      batch_stats,
      {'l_g_pix': l_pix, 'l_g_percep': l_percep, 'l_g_gan': l_gan, 'l_g_total': total},
    )

  (_, (sr, g_batch_stats, batch_stats, g_metrics)), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
    state.g_params
  )
  sr = jax.lax.stop_gradient(sr)
  d_loss = losses.ragan_discriminator_loss if stage.gan_type == 'ragan' else losses.vanilla_discriminator_loss

  def d_loss_fn(d_params):
    real_logits, new_stats = d_apply(d_params, batch_stats, hr)
    fake_logits, new_stats = d_apply(d_params, new_stats, sr)
    return d_loss(real_logits, fake_logits), (new_stats, real_logits, fake_logits)

  (l_d, (d_batch_stats, real_logits, fake_logits)), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
    state.d_params
  )
  d_updates, d_opt_state = d_tx.update(d_grads, state.d_opt_state, state.d_params)
  d_params = optax.apply_updates(state.d_params, d_updates)

  iteration = state.step + 1
  update_g = (iteration % stage.net_d_iters == 0) & (iteration > stage.net_d_init_iters)
  g_updates, g_opt_state = g_tx.update(g_grads, state.g_opt_state, state.g_params)
  g_params = optax.apply_updates(state.g_params, g_updates)
  keep_if_frozen = lambda new, old: jax.tree.map(lambda n, o: jnp.where(update_g, n, o), new, old)
  g_params = keep_if_frozen(g_params, state.g_params)
  g_opt_state = keep_if_frozen(g_opt_state, state.g_opt_state)
  g_batch_stats = keep_if_frozen(g_batch_stats, state.g_batch_stats)

  new_state = state.replace(
    step=iteration,
    g_params=g_params,
    g_opt_state=g_opt_state,
    ema_params=_ema(g_params, state.ema_params, ema_decay),
    g_batch_stats=g_batch_stats,
    d_params=d_params,
    d_batch_stats=d_batch_stats,
    d_opt_state=d_opt_state,
  )
  return new_state, {**g_metrics, 'l_d': l_d, 'out_d_real': jnp.mean(real_logits), 'out_d_fake': jnp.mean(fake_logits)}


def create_mesh(devices: list[jax.Device] | None = None) -> jax.sharding.Mesh:
  """A 1-D mesh ('data') over `devices` (default: every device of every process)."""
  devices = devices or jax.devices()
  return jax.make_mesh((len(devices),), ('data',), axis_types=(jax.sharding.AxisType.Auto,), devices=devices)


def global_batch(local_batch: dict[str, np.ndarray], sharding: NamedSharding) -> dict[str, jax.Array]:
  """Assembles each process's slice into global arrays sharded on the batch axis."""
  return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in local_batch.items()}


def init_state(
  config: ml_collections.ConfigDict,
  stage_name: str,
  sample_lr: jax.Array,
  *,
  generator_variables: dict[str, Any] | None = None,
) -> PSNRState | GANState:
  """Fresh state of a stage; `generator_variables` ({'params'[, 'batch_stats']} in the layout of files, e.g. the PSNR
  model) replace G's random init and seed the EMA. G's variables are in `to_train_layout`. With `config.scan_blocks`
  G is initialised as scanned (one block's initialisers to compile, not num_block; other random draws)."""
  stage = config[stage_name]
  rng_g, rng_d = jax.random.split(jax.random.key(config.seed))
  generator = create_generator(config)
  if generator_variables is None:
    variables = generator.init(rng_g, sample_lr)
  else:
    variables = to_train_layout(generator, generator_variables)
  g_params = variables['params']
  g_lr = stage.lr if stage_name == 'psnr' else stage.lr_g
  fields = dict(
    step=jnp.zeros((), jnp.int32),
    g_params=g_params,
    g_opt_state=create_optimizer(stage, g_lr).init(g_params),
    ema_params=g_params,
    g_batch_stats=variables.get('batch_stats', {}),
  )
  if stage_name == 'psnr':
    return PSNRState(**fields)
  sample_hr = jnp.zeros((1, stage.gt_size, stage.gt_size, 3), jnp.float32)
  d_vars = create_discriminator(config).init(rng_d, sample_hr, train=False)
  return GANState(
    **fields,
    d_params=d_vars['params'],
    d_batch_stats=d_vars['batch_stats'],
    d_opt_state=create_optimizer(stage, stage.lr_d).init(d_vars['params']),
  )
