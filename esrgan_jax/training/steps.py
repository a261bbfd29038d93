"""The training step functions and what they need, pure and jit-able: states, networks, optimisers, one PSNR (L1)
step and one GAN step (BasicSR's ESRGANModel / SRGANModel), the device mesh. No TensorFlow and no ml_collections
(configs need only attribute access): accelerator scripts import this without the tf.data pipeline.

Data-parallel over all devices of all processes: one `jax.jit` step over a 1-D `Mesh` ('data'), the batch sharded
on its leading axis and the train state replicated. Batch statistics and the RaGAN means are taken over the global
batch, so N devices compute what one device would. With Real-ESRGAN's degradation (`on_gt_patches`) the batch holds
GT patches and the step synthesises its LR inputs first, in the same sharded program.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from esrgan_jax import runtime
from esrgan_jax.degradations import pipeline
from esrgan_jax.degradations.pipeline import DegradationOptions
from esrgan_jax.models import rrdbnet
from esrgan_jax.models.discriminator import VGGStyleDiscriminator
from esrgan_jax.models.unet_discriminator import UNetDiscriminatorSN
from esrgan_jax.training import ldl, losses, optimizers
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
  d_collections: Any  # D's other variables: {'batch_stats': ...} (VGG-style) or {'spectral': u, v} (U-Net)
  d_opt_state: Any


DISCRIMINATOR_ARCHS = {cls.__name__: cls for cls in (VGGStyleDiscriminator, UNetDiscriminatorSN)}
TRAIN_DEGRADATION, VAL_DEGRADATION = 1, 2  # `degradation_key` streams


def create_generator(config: ml_collections.ConfigDict) -> nn.Module:
  """`model_io.GENERATOR_ARCHS[config.model.arch]` with `config.scale`, the other `config.model` fields, the
  compute dtype and `remat`/`scan_blocks` when set (a config `config_checks.check` accepted)."""
  fields = config.model.to_dict()
  cls = model_io.GENERATOR_ARCHS[fields.pop('arch')]
  levers = {name: True for name in ('remat', 'scan_blocks') if config.get(name)}
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


def create_discriminator(config: ml_collections.ConfigDict) -> nn.Module:
  """`config.discriminator.arch`: ESRGAN's VGG-style D (one logit per image) or Real-ESRGAN's U-Net (per pixel)."""
  d = config.discriminator
  if d.arch == 'UNetDiscriminatorSN':
    return UNetDiscriminatorSN(num_feat=d.num_feat, skip_connection=d.skip_connection, dtype=compute_dtype(config))
  return VGGStyleDiscriminator(num_feat=d.num_feat, input_size=config.gan.gt_size, dtype=compute_dtype(config))


def degradation_options(scale: int, data: ml_collections.ConfigDict) -> DegradationOptions:
  """Real-ESRGAN x4plus's degradation for `scale`, with the GT sharpened as `data.sharpen_gt` says, the JPEG of
  `data.jpeg_impl` and the choices drawn as `data.degradation_draws`."""
  return DegradationOptions(
    scale=scale, sharpen_gt=data.sharpen_gt, jpeg_impl=data.jpeg_impl, draws=data.degradation_draws
  )


def degradation_key(seed: int, stream: int) -> jax.Array:
  """The key the training (TRAIN_DEGRADATION) or validation (VAL_DEGRADATION) examples are degraded from."""
  return jax.random.fold_in(jax.random.key(seed), stream)


def degraded_batch(
  batch: dict[str, jax.Array], key: jax.Array, options: DegradationOptions, mesh: jax.sharding.Mesh
) -> dict[str, jax.Array]:
  """GT patches {'hr': [B, H, W, 3] in [0, 1], 'index': int [B] global example indices}, sharded on `mesh`'s 'data'
  axis -> the step's batch: 'lr' [B, H/s, W/s, 3] degraded from (key, index), 'hr' the pixel/perceptual target
  (USM-sharpened when options.sharpen_gt) and 'gan_hr' D's real images (the GT as it is: Real-ESRGAN's gan_gt_usm
  False). Each device degrades its own examples (`shard_map`): left to the partitioner, the GPU compiler gathered the
  FFT blurs' inputs onto every device."""
  args, specs = (batch['index'], batch['hr']), (P('data'), P('data'))
  if options.draws == 'per_batch':  # the global batch's shared-draw key, replicated
    args, specs = args + (pipeline.batch_key(key, batch['index']),), specs + (P(),)
  per_device = lambda index, hr, *shared: pipeline.synthesize_batch(key, index, hr, options, *shared)
  # check_vma off: lax.switch over the resize methods mixes replicated and per-device values (JAX asks for this)
  lr, target = jax.shard_map(per_device, mesh=mesh, in_specs=specs, out_specs=(P('data'), P('data')), check_vma=False)(
    *args
  )
  return {'lr': lr, 'hr': target, 'gan_hr': batch['hr']}


def on_gt_patches(step_fn: Callable, key: jax.Array, options: DegradationOptions, mesh: jax.sharding.Mesh) -> Callable:
  """`step_fn(state, batch, *args)` on GT-patch batches ({'hr', 'index'}, sharded on `mesh`): `degraded_batch`
  first, same program.

  Each example's LR input depends only on (key, its index, the batch's smallest index), bit for bit for a given
  per-device batch size, so a resumed run (same devices) repeats it exactly. Another per-device batch size may change
  float rounding in the batched ops, which the 8-bit and JPEG quantisation can turn into a few levels' difference in
  some examples."""
  return lambda state, batch, *args: step_fn(state, degraded_batch(batch, key, options, mesh), *args)


def compute_dtype(config: ml_collections.ConfigDict) -> Any:
  return jnp.bfloat16 if config.half_precision else None


def create_learning_rate_fn(stage: ml_collections.ConfigDict, base_lr: float) -> optax.Schedule:
  """lr per step (0-based). multistep: x`gamma` from each milestone on (torch MultiStepLR); cosine_restarts:
  BasicSR's CosineAnnealingRestartLR, `eta_min + w * (base - eta_min) * (1 + cos(pi * t / period)) / 2`."""
  if stage.schedule == 'constant':
    return optax.constant_schedule(base_lr)
  if stage.schedule == 'multistep':
    return optax.piecewise_constant_schedule(base_lr, {int(m): stage.gamma for m in stage.milestones})
  return cosine_restart_schedule(base_lr, stage.periods, stage.restart_weights, stage.eta_min)


def cosine_restart_schedule(
  base_lr: float, periods: tuple[int, ...], restart_weights: tuple[float, ...], eta_min: float
) -> optax.Schedule:
  """BasicSR's CosineAnnealingRestartLR at 0-based step t (its `last_epoch`): cycle i is the first with
  t <= sum(periods[:i + 1]), so a cycle's last step still belongs to it and reaches eta_min, and the next cycle starts
  one step later, at offset 1. lr = eta_min + w_i * (base - eta_min) * (1 + cos(pi * (t - start_i) / period_i)) / 2;
  after the last cycle it stays at eta_min."""
  if len(periods) != len(restart_weights):
    raise ValueError(f'periods {periods} and restart_weights {restart_weights} must have the same length.')
  ends = np.cumsum(periods)
  starts, lengths = jnp.asarray(ends - np.asarray(periods)), jnp.asarray(periods, jnp.float32)
  weights = jnp.asarray(restart_weights, jnp.float32)

  def schedule(count):
    cycle = jnp.minimum(jnp.searchsorted(jnp.asarray(ends), count, side='left'), len(periods) - 1)
    progress = jnp.minimum((count - starts[cycle]) / lengths[cycle], 1.0)
    return eta_min + weights[cycle] * (base_lr - eta_min) * 0.5 * (1 + jnp.cos(jnp.pi * progress))

  return schedule


def create_optimizer(stage: ml_collections.ConfigDict, base_lr: float) -> optax.GradientTransformation:
  """The stage's optimiser at `create_learning_rate_fn`'s schedule (see `optimizers.create_optimizer`)."""
  return optimizers.create_optimizer(stage, base_lr, create_learning_rate_fn(stage, base_lr))


def _ema(params: Any, ema_params: Any, decay: float) -> Any:
  return optax.incremental_update(params, ema_params, step_size=1.0 - decay)


def _ema_after_update(new_opt_state: Any, params: Any, ema_params: Any, decay: float, updated: Any = None) -> Any:
  """The EMA after a step: of the params to evaluate (`optimizers.eval_params`), advanced only on steps that
  applied an optimiser update (`updated`, default `optimizers.update_applied(new_opt_state)`: every step without
  gradient accumulation)."""
  updated = optimizers.update_applied(new_opt_state) if updated is None else updated
  new = _ema(optimizers.eval_params(new_opt_state, params), ema_params, decay)
  if updated is True:
    return new
  return jax.tree.map(lambda n, o: jnp.where(updated, n, o), new, ema_params)


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
  log_grad_norm: bool = False,
) -> tuple[PSNRState, dict[str, jax.Array]]:
  """One L1 step. batch: {'lr': [B, h, w, 3], 'hr': [B, h*scale, w*scale, 3]} in [0, 1]. `log_grad_norm`: also
  return the gradient's global norm (before any clipping) as 'grad_norm_g'."""

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
    ema_params=_ema_after_update(opt_state, params, state.ema_params, ema_decay),
    g_batch_stats=batch_stats,
  )
  return new_state, {'l_pix': loss, **({'grad_norm_g': optax.tree.norm(grads)} if log_grad_norm else {})}


def _layer_weights_in_compute_dtype(discriminator: nn.Module, params: Any) -> Any:
  """VGG-style D's params with every Conv/Dense kernel and bias (a module's params holding 'kernel') cast to D's
  compute dtype, as those layers cast them themselves (BatchNorm's scale and bias stay: it normalises in float32).
  Unchanged for float32 compute and for the U-Net D (its spectral norm works on the float32 kernel)."""
  dtype = discriminator.dtype
  if dtype is None or not isinstance(discriminator, VGGStyleDiscriminator):
    return params

  def cast(tree):
    if 'kernel' in tree:
      return {name: leaf.astype(dtype) for name, leaf in tree.items()}
    return {name: cast(sub) if isinstance(sub, Mapping) else sub for name, sub in tree.items()}

  return cast(params)


def gan_train_step(
  state: GANState,
  batch: dict[str, jax.Array],
  perceptual_params: Any,
  *,
  generator: nn.Module,
  discriminator: nn.Module,
  perceptual: nn.Module | None,
  g_tx: optax.GradientTransformation,
  d_tx: optax.GradientTransformation,
  stage: ml_collections.ConfigDict,
  ema_decay: float,
) -> tuple[GANState, dict[str, jax.Array]]:
  """One GAN step as BasicSR's ESRGANModel (`stage.gan_type` 'ragan') or SRGANModel ('vanilla'): the G step (D
  frozen but in train mode; D sees the HR batch too for RaGAN only), then the D step on the same SR output; both from
  the pre-step parameters. G is updated only when `iteration % net_d_iters == 0` and `iteration > net_d_init_iters`
  (BasicSR's current_iter, counted from 1 in optimiser updates); D every update. D's mutable collections (BatchNorm
  statistics, or the U-Net's spectral-norm vectors) advance on every D pass, as torch's train-mode forward does, and
  the passes are BasicSR's: ragan runs D on (real, SR) in the G step and on (SR detached, real, SR) in the D step, five
  in all; vanilla on SR, then (real, SR); the G step's passes only when G is updated. G's own BatchNorm statistics
  advance every step (BasicSR runs G in train mode before deciding). D's real images are batch['gan_hr'] when present
  (Real-ESRGAN: the GT unsharpened), else batch['hr'].

  With `stage.ldl_weight` G's loss adds LDL (`ldl.ldl_loss`, against the EMA generator's eval-mode output). With
  `stage.accum_iter` k > 1 each call is one micro-batch and the iteration counts optimiser updates (k calls); RaGAN's
  means and BatchNorm statistics are those of the micro-batch, and D's collections and G's BatchNorm running
  statistics advance on every micro-batch. With `stage.grad_clip` the metrics hold both gradients' global norms
  before clipping ('grad_norm_g', 'grad_norm_d')."""
  lr_img, hr = batch['lr'], batch['hr']
  real = batch.get('gan_hr', hr)
  sr_ema = None
  if stage.ldl_weight:
    ema_variables = {
      'params': state.ema_params,
      **({'batch_stats': state.g_batch_stats} if state.g_batch_stats else {}),
    }
    sr_ema = generator.apply(ema_variables, lr_img, train=False)

  def d_apply(params, collections, x):
    logits, updates = discriminator.apply({'params': params, **collections}, x, train=True, mutable=list(collections))
    return logits.astype(jnp.float32), updates

  def g_loss_fn(g_params):
    sr, g_batch_stats = _generator_train_apply(generator, g_params, state.g_batch_stats, lr_img)
    l_pix = stage.pixel_weight * losses.l1_loss(sr, hr)
    l_percep = jnp.zeros((), jnp.float32)
    if stage.perceptual_weight:
      features_fn = lambda x: perceptual.apply({'params': perceptual_params}, x)
      l_percep = stage.perceptual_weight * losses.perceptual_loss(features_fn, sr, hr, stage.perceptual_layers)
    if stage.gan_type == 'ragan':
      real_logits, d_collections = d_apply(state.d_params, state.d_collections, real)
      fake_logits, d_collections = d_apply(state.d_params, d_collections, sr)
      l_gan = losses.ragan_generator_loss(real_logits, fake_logits)
    else:
      fake_logits, d_collections = d_apply(state.d_params, state.d_collections, sr)
      l_gan = losses.vanilla_generator_loss(fake_logits)
    l_gan = stage.gan_weight * l_gan
    extra = {'l_g_ldl': stage.ldl_weight * ldl.ldl_loss(hr, sr, sr_ema)} if stage.ldl_weight else {}
    total = l_pix + l_percep + l_gan + sum(extra.values())
    return total, (
      sr,
      g_batch_stats,
      d_collections,
      {'l_g_pix': l_pix, 'l_g_percep': l_percep, 'l_g_gan': l_gan, **extra, 'l_g_total': total},
    )

  (_, (sr, g_batch_stats, d_collections, g_metrics)), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
    state.g_params
  )
  sr = jax.lax.stop_gradient(sr)
  iteration = optimizers.updates_done(state.d_opt_state, state.step) + 1  # BasicSR's current_iter
  update_g = (iteration % stage.net_d_iters == 0) & (iteration > stage.net_d_init_iters)
  keep_if_frozen = lambda new, old: jax.tree.map(lambda n, o: jnp.where(update_g, n, o), new, old)
  # BasicSR skips the G step's D passes when G is not updated: their statistics updates count only then.
  d_collections = keep_if_frozen(d_collections, state.d_collections)

  def d_loss_fn(d_params):
    # one cast of D's layer weights for all its passes: their weight-gradient contributions add in the compute dtype
    # before XLA's cross-device all-reduce, so D's gradient is reduced once (with a cast per pass, bf16 compute
    # reduced each pass's contribution separately: twice the bytes)
    d_params = _layer_weights_in_compute_dtype(discriminator, d_params)
    collections = d_collections
    if stage.gan_type == 'ragan':  # ESRGANModel's first D-step pass: SR logits, detached, for the real term's mean
      detached_fake, collections = d_apply(d_params, collections, sr)
    real_logits, collections = d_apply(d_params, collections, real)
    fake_logits, collections = d_apply(d_params, collections, sr)
    if stage.gan_type == 'ragan':
      loss = losses.ragan_discriminator_loss(real_logits, fake_logits, detached_fake)
    else:
      loss = losses.vanilla_discriminator_loss(real_logits, fake_logits)
    return loss, (collections, real_logits, fake_logits)

  (l_d, (d_collections, real_logits, fake_logits)), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
    state.d_params
  )
  d_updates, d_opt_state = d_tx.update(d_grads, state.d_opt_state, state.d_params)
  d_params = optax.apply_updates(state.d_params, d_updates)

  g_updates, g_opt_state = g_tx.update(g_grads, state.g_opt_state, state.g_params)
  g_params = optax.apply_updates(state.g_params, g_updates)
  g_params = keep_if_frozen(g_params, state.g_params)
  g_opt_state = keep_if_frozen(g_opt_state, state.g_opt_state)

  new_state = state.replace(
    step=iteration,
    g_params=g_params,
    g_opt_state=g_opt_state,
    # once per update (D's optimiser tells: G's may be frozen), as BasicSR's model_ema every iteration
    ema_params=_ema_after_update(
      g_opt_state, g_params, state.ema_params, ema_decay, updated=optimizers.update_applied(d_opt_state)
    ),
    g_batch_stats=g_batch_stats,
    d_params=d_params,
    d_collections=d_collections,
    d_opt_state=d_opt_state,
  )
  norms = {'grad_norm_g': optax.tree.norm(g_grads), 'grad_norm_d': optax.tree.norm(d_grads)} if stage.grad_clip else {}
  d_metrics = {'l_d': l_d, 'out_d_real': jnp.mean(real_logits), 'out_d_fake': jnp.mean(fake_logits)}
  return new_state, {**g_metrics, **d_metrics, **norms}


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
  optimizer: Callable[[float], optax.GradientTransformation] | None = None,
) -> PSNRState | GANState:
  """Fresh state of a stage; `generator_variables` ({'params'[, 'batch_stats']} in the layout of files, e.g. the PSNR
  model) replace G's random init and seed the EMA. G's variables are in `to_train_layout`. With `config.scan_blocks`
  G is initialised as scanned (one block's initialisers to compile, not num_block; other random draws).
  `optimizer(base_lr)` replaces `create_optimizer(stage, base_lr)` (see `step_builder.build_train_step`)."""
  stage = config[stage_name]
  optimizer = optimizer or (lambda base_lr: create_optimizer(stage, base_lr))
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
    g_opt_state=optimizer(g_lr).init(g_params),
    ema_params=g_params,
    g_batch_stats=variables.get('batch_stats', {}),
  )
  if stage_name == 'psnr':
    return PSNRState(**fields)
  sample_hr = jnp.zeros((1, stage.gt_size, stage.gt_size, 3), jnp.float32)
  d_collections = dict(create_discriminator(config).init(rng_d, sample_hr, train=False))
  d_params = d_collections.pop('params')
  return GANState(
    **fields, d_params=d_params, d_collections=d_collections, d_opt_state=optimizer(stage.lr_d).init(d_params)
  )
