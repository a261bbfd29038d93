"""ESRGAN training: PSNR-oriented pre-training (L1), then GAN fine-tuning from the PSNR generator.

The generator (RRDBNet or SRGAN's MSRResNet, with or without BatchNorm), the perceptual features (VGG19 before or
after activation, MINC) and the GAN loss (RaGAN or the standard GAN) are config choices, so the paper's ablation
(configs/ablation/) runs on the same code, and so does Real-ESRGAN's recipe (configs/realesrnet_x4plus.py,
realesrgan_x4plus.py): with `train_data.degradation` 'realesrgan' the host only crops GT patches and the jitted step
synthesises the LR inputs; the discriminator can be its U-Net with spectral norm. A generator with BatchNorm trains
in train mode (batch statistics); every exported or evaluated generator has its BatchNorm folded into the convs.

Data-parallel over all devices of all processes: one `jax.jit` step over a 1-D `Mesh` ('data'), the batch sharded
on its leading axis and the train state replicated. Each process feeds its own slice of the global batch.
Batch statistics and the RaGAN means are taken over the global batch, so N devices compute what one device would.
"""

import dataclasses
import functools
import json
import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import flax.linen as nn
import jax
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from absl import logging
from clu import metric_writers, periodic_actions
from etils import epath
from flax import serialization
from jax.experimental import multihost_utils

from esrgan_jax.data import image_io, input_pipeline, quantize, storage
from esrgan_jax.data.val_images import create_val_images
from esrgan_jax.inference import evaluation, quality, strip
from esrgan_jax.models.fold_batch_norm import fold_batch_norm
from esrgan_jax.training import config_checks, history_log, optimizers, progress, step_builder, validation
from esrgan_jax.training.prefetch import prefetch_to_device
from esrgan_jax.training.steps import (
  VAL_DEGRADATION,
  PSNRState,
  create_generator,
  create_learning_rate_fn,
  create_mesh,
  degradation_key,
  degradation_options,
  to_file_layout,
)
from esrgan_jax.weights import model_io, safetensors_io
from esrgan_jax.weights.generator_state_dicts import generator_to_torch

GENERATOR_FILE = 'generator.msgpack'  # EMA generator exported when a stage completes, BatchNorm folded
# the same generator as a state dict with BasicSR's key names (torch layout), for spandrel / chaiNNer / BasicSR
GENERATOR_SAFETENSORS_FILE = 'generator.safetensors'
BN_GENERATOR_FILE = 'generator_bn.msgpack'  # generators with BatchNorm: also unfolded, for the GAN stage to start from
STRIP_FILE = 'strip.png'  # written into the workdir by `write_strip` (train_data.degradation 'realesrgan')


def pretrained_file_name(config: ml_collections.ConfigDict) -> str:
  """The file of a finished stage that a GAN stage with this `config.model` starts from (unfolded if it has BN)."""
  return BN_GENERATOR_FILE if config.model.get('use_bn') else GENERATOR_FILE


def load_pretrained_generator(config: ml_collections.ConfigDict, workdir: str | os.PathLike) -> dict[str, Any]:
  """The GAN stage's starting generator variables {'params'[, 'batch_stats']}: `config.gan.pretrained`, or the PSNR
  stage's export in this workdir. The file's arch and every constructor field must match `create_generator`'s."""
  path = storage.path(config.gan.pretrained or storage.path(workdir) / 'psnr' / pretrained_file_name(config))
  if not path.is_file():
    raise FileNotFoundError(
      f'The GAN stage starts from a PSNR-trained generator, but {path} does not exist. Run the psnr stage first '
      f"(config.stages=('psnr', 'gan')) or set --config.gan.pretrained to a generator file (ours, or official "
      f"weights converted with `python -m esrgan_jax.convert generator`; with BatchNorm, a stage's "
      f'{BN_GENERATOR_FILE}).'
    )
  arch, file_fields, variables = model_io.load_model(path)
  expected = create_generator(config)
  if arch != type(expected).__name__:
    raise ValueError(f'Pretrained generator {path} is a {arch}, but config.model.arch is {type(expected).__name__}.')
  module = model_io.GENERATOR_ARCHS[arch](**file_fields)
  mismatched = {
    f: f'file {getattr(module, f)} vs config {getattr(expected, f)}'
    for f in model_io.generator_fields(type(expected))
    if getattr(module, f) != getattr(expected, f)
  }
  if mismatched:
    raise ValueError(f'Pretrained generator {path} does not match config.model/config.scale: {mismatched}.')
  return variables


def host_copy(tree: Any) -> Any:
  """numpy copy of a replicated pytree, from this process's first shard (works across processes)."""
  return jax.tree.map(lambda x: np.asarray(x.addressable_data(0)), tree)


def ema_generator(generator: nn.Module, state: PSNRState) -> tuple[nn.Module, dict[str, Any]]:
  """(module, variables {'params', 'batch_stats'}) of the EMA generator on the host, in the layout of files
  (`steps.to_file_layout`: the RRDB blocks unstacked if the train state holds them stacked)."""
  return to_file_layout(
    generator, {'params': host_copy(state.ema_params), 'batch_stats': host_copy(state.g_batch_stats)}
  )


def load_val_images(config: ml_collections.ConfigDict, count: int | None = None) -> list[dict]:
  """The first `count` (None: all) validation images of `config.val_data` ({'name', 'lr', 'hr'}, see
  `val_images.create_val_images`), their LR inputs degraded as in training when its degradation is 'realesrgan'."""
  val_images = create_val_images(config.val_data, scale=config.scale)[:count]
  if config.val_data.degradation != 'realesrgan':
    return val_images
  key = degradation_key(config.seed, VAL_DEGRADATION)
  return validation.degrade_images(val_images, key, degradation_options(config.scale, config.val_data))


def write_strip(config: ml_collections.ConfigDict, workdir: str | os.PathLike) -> dict[str, float]:
  """Writes WORKDIR/strip.png from the first validation image: its LR input | `config.strip_baseline`'s output (''
  = bicubic upscaling) | the last stage's exported generator's output, captioned with NIQE; returns {caption: NIQE}."""
  workdir, scale = storage.path(workdir), config.scale
  [item] = load_val_images(config, count=1)
  upscale = lambda path: quantize.to_uint8(evaluation.generator_sr_fn(*model_io.load_generator(path))(item['lr']))
  if config.strip_baseline:
    baseline_label = f'baseline {"/".join(storage.path(config.strip_baseline).parts[-3:])}'
    baseline = upscale(config.strip_baseline)
  else:
    baseline_label, baseline = f'bicubic x{scale}', evaluation.bicubic_upscale(item['lr'], scale)
  last = config.stages[-1]
  outputs = {baseline_label: baseline, f'this run ({last})': upscale(workdir / last / GENERATOR_FILE)}
  return strip.write_strip(workdir / STRIP_FILE, quantize.to_uint8(item['lr']), outputs, scale)


def inference_generator(generator: nn.Module, state: PSNRState) -> tuple[nn.Module, Any]:
  """(module without BatchNorm, params) of the EMA generator on the host: BN folded with G's running statistics."""
  return fold_batch_norm(*ema_generator(generator, state))


def export_generator(stage_dir: epath.Path, module: nn.Module, params: Any) -> None:
  """Writes a finished stage's BN-free generator twice: GENERATOR_FILE (ours) and GENERATOR_SAFETENSORS_FILE."""
  model_io.save_generator(stage_dir / GENERATOR_FILE, module, params)
  safetensors_io.save_state_dict(stage_dir / GENERATOR_SAFETENSORS_FILE, generator_to_torch(module, params))


def evaluate_state(
  generator: nn.Module, state: PSNRState, val_images: list[dict], names: tuple[str, ...], available: dict
) -> tuple[dict[str, float], dict[str, float], list[np.ndarray]]:
  """`evaluate` of the EMA generator of `state` (`inference_generator`)."""
  return evaluate(*inference_generator(generator, state), val_images, names, available)


def evaluate(
  generator: nn.Module,
  params: Any,
  val_images: list[dict],
  names: tuple[str, ...] = quality.DISTORTION,
  available: dict[str, quality.Metric] | None = None,
) -> tuple[dict[str, float], dict[str, float], list[np.ndarray]]:
  """Y-channel PSNR/SSIM (crop = scale, outputs rounded to 8 bit) and the other `names` metrics of whole validation
  images: ({'val_NAME': mean}, {'val_niqe/IMAGE': score}, the uint8 SR images); see `validation.evaluate`."""
  sr_fn = evaluation.generator_sr_fn(generator, params)
  return validation.evaluate(sr_fn, val_images, generator.scale, names, available)


def bicubic_metrics(
  val_images: list[dict], scale: int, names: tuple[str, ...] = quality.DISTORTION
) -> dict[str, float]:
  """Mean Y-PSNR / SSIM (and other `names`) of MATLAB bicubic upscaling of the validation images: the baseline."""
  return validation.evaluate(evaluation.bicubic_sr_fn(scale), val_images, scale, names)[0]


def _checkpoint_manager(
  directory: epath.Path, config: ml_collections.ConfigDict, best_metric: str = 'val_psnr'
) -> ocp.CheckpointManager:
  policy = ocp.checkpoint_managers.AnyPreservationPolicy(
    [ocp.checkpoint_managers.LatestN(config.keep_checkpoints), validation.best_checkpoints(best_metric)]
  )
  directory = directory if storage.is_url(directory) else directory.resolve()  # Orbax writes gs:// natively
  return ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(preservation_policy=policy))


class NonFiniteLossError(FloatingPointError):
  pass


def _check_finite(step: int, values: dict[str, float], ckpt_dir: epath.Path, last_saved: int | None) -> None:
  bad = {k: v for k, v in values.items() if not math.isfinite(v)}
  if bad:
    where = f'the last good checkpoint is step {last_saved} in {ckpt_dir}' if last_saved else 'no checkpoint yet'
    raise NonFiniteLossError(
      f'Non-finite loss at step {step}: {bad}. Training stopped; {where}. Lower the learning '
      f'rate or the GAN weight, or check the data, then rerun the same command to resume.'
    )


def train_stage(config: ml_collections.ConfigDict, stage_name: str, workdir: epath.Path) -> dict[str, float]:
  """Trains one stage into `workdir/stage_name`, resuming from its latest checkpoint; returns final val metrics."""
  stage, workdir = config[stage_name], storage.path(workdir)  # a local folder or a URL (gs://bucket/run)
  stage_dir = workdir / stage_name
  summary_path = stage_dir / 'summary.json'
  if summary_path.is_file():
    logging.info('Stage %s already complete (%s); skipping.', stage_name, summary_path)
    return json.loads(summary_path.read_text())
  generator = create_generator(config)
  pretrained = load_pretrained_generator(config, workdir) if stage_name == 'gan' else None
  train_step = step_builder.build_train_step(config, stage_name, create_mesh())
  manager = _checkpoint_manager(stage_dir / 'checkpoints', config, stage.best_metric)
  scan_blocks = bool(getattr(generator, 'scan_blocks', False))
  state = restore_latest(manager, train_step.init(pretrained), scan_blocks, stage_name)
  val_images = load_val_images(config)
  names = validation.usable_metrics(
    validation.metric_names(stage), val_images, config.scale, stage_name, stage.best_metric
  )
  validate = functools.partial(
    evaluate_state, generator, val_images=val_images, names=names, available=validation.available_metrics(stage)
  )
  bicubic = bicubic_metrics(val_images, config.scale)['val_psnr'] if val_images else None
  logdir = storage.path(config.tensorboard_dir) / stage_name if config.tensorboard_dir else stage_dir
  writer = metric_writers.create_default_writer(os.fspath(logdir), just_logging=jax.process_index() != 0)
  if int(state.step) == 0 and val_images:
    writer.write_scalars(0, {'val_psnr_bicubic': bicubic})
  loop = TrainLoop(
    stage_name=stage_name,
    stage_dir=stage_dir,
    num_steps=stage.num_steps,
    intervals=(config.log_every_steps, config.eval_every_steps, config.checkpoint_every_steps),
    manager=manager,
    meta={'stage': stage_name, 'seed': config.seed, 'scan_blocks': scan_blocks},  # scan_blocks: the params' layout
    writer=writer,
    val_images=val_images,
    validate=validate,
  )
  batches = train_batches(config, stage_name, int(state.step), train_step)
  state, val, sr_images = loop.run(train_step, state, batches, stage_lr_schedule(stage_name, stage))
  if val_images and sr_images is None:  # resumed from the final checkpoint
    val, _, sr_images = validate(state)
  summary = {'stage': stage_name, 'steps': stage.num_steps, **val}
  if val_images:
    summary['val_psnr_bicubic'] = bicubic
  if jax.process_index() == 0:
    export_stage(stage_dir, generator, state, val_images, sr_images, config.scale)
    summary_path.write_text(json.dumps(summary, indent=2))
  if jax.process_count() > 1:  # the next stage and rerun checks on every process read what process 0 just wrote
    multihost_utils.sync_global_devices(f'esrgan_jax: stage {stage_name} exported')
  return summary


def restore_latest(manager: ocp.CheckpointManager, state: PSNRState, scan_blocks: bool, stage_name: str) -> PSNRState:
  """The state of the latest checkpoint in `manager` (`state`, a fresh one, gives the structure and shardings), or
  `state` itself if there is none. Raises ValueError if the checkpoint's RRDB layout is not `scan_blocks`'."""
  last_saved = manager.latest_step()
  if last_saved is None:
    return state
  meta = manager.restore(last_saved, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))['meta']
  if meta.get('scan_blocks', False) != scan_blocks:
    raise ValueError(
      f'The checkpoint of step {last_saved} in {manager.directory} holds the RRDB blocks '
      f'{"stacked" if meta.get("scan_blocks") else "unstacked"} (config.scan_blocks={not scan_blocks}), but '
      f'config.scan_blocks is {scan_blocks}: resume with --config.scan_blocks={not scan_blocks} (the setting '
      f'changes the compile time, not the results).'
    )
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, serialization.to_state_dict(state))
  restored = manager.restore(last_saved, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract)))
  logging.info('Resumed stage %s from step %d (%s).', stage_name, last_saved, manager.directory)
  return serialization.from_state_dict(state, restored['state'])


def train_batches(
  config: ml_collections.ConfigDict, stage_name: str, start_step: int, train_step: step_builder.TrainStep
) -> Iterator[dict[str, jax.Array]]:
  """The stage's global batches from step `start_step` + 1 on, placed as `train_step` takes them, transferred ahead."""
  stage = config[stage_name]
  dataset = input_pipeline.create_train_dataset(
    config.train_data,
    scale=config.scale,
    gt_size=stage.gt_size,
    global_batch_size=stage.batch_size,
    seed=config.seed,
    start_step=start_step,
  )
  return prefetch_to_device(dataset.as_numpy_iterator(), train_step.place)


def stage_lr_schedule(stage_name: str, stage: ml_collections.ConfigDict) -> optax.Schedule:
  """G's learning rate at each 0-based step of the stage (micro-batch steps share their update's)."""
  g_lr = stage.lr if stage_name == 'psnr' else stage.lr_g
  return optimizers.iteration_learning_rate(stage, g_lr, create_learning_rate_fn(stage, g_lr))


@dataclasses.dataclass
class TrainLoop:
  """The steps of one stage with their logging, validation and checkpoints."""

  stage_name: str
  stage_dir: epath.Path  # history.jsonl and validation.jsonl go here (process 0)
  num_steps: int
  intervals: tuple[int, int, int]  # log, eval, checkpoint: every this many steps (and at the last step)
  manager: ocp.CheckpointManager
  meta: dict[str, Any]  # saved beside each checkpoint's state, with the step
  writer: metric_writers.MetricWriter
  val_images: list[dict]  # none: no validation
  validate: Callable[[PSNRState], tuple[dict, dict, list]]  # `evaluate_state` on `val_images`

  def run(
    self, train_step: step_builder.TrainStep, state: PSNRState, batches: Iterator, lr_schedule: optax.Schedule
  ) -> tuple[PSNRState, dict[str, float], list | None]:
    """Steps from `state.step` + 1 to `num_steps`: (final state, the last validation's means, its SR images)."""
    log_every, eval_every, checkpoint_every = self.intervals
    start_step, last_saved = int(state.step), self.manager.latest_step()
    is_writer = jax.process_index() == 0
    history = history_log.open_for_append(self.stage_dir / 'history.jsonl', start_step) if is_writer else None
    report = periodic_actions.ReportProgress(num_train_steps=self.num_steps, writer=self.writer)
    log_steps = functools.partial(
      _log_steps,
      writer=self.writer,
      history=history,
      lr_schedule=lr_schedule,
      log_every_steps=log_every,
      num_steps=self.num_steps,
      ckpt_dir=self.manager.directory,
      time_left=progress.TimeLeft(self.num_steps),
    )
    val, sr_images = {}, None
    # (step, metrics on device) not yet logged: fetched in one transfer every log_every steps, the newest left
    # pending, so the host never waits for the step it just dispatched
    pending = []
    try:  # on any error, still finish the pending async save: it is the last good checkpoint
      with metric_writers.ensure_flushes(self.writer):
        for step in range(start_step + 1, self.num_steps + 1):
          with jax.profiler.StepTraceAnnotation('train', step_num=step):
            state, step_metrics = train_step(state, next(batches))
          pending.append((step, step_metrics))
          if len(pending) > log_every:
            log_steps(pending[:-1], last_saved=last_saved)
            pending = pending[-1:]
          report(step)
          is_last = step == self.num_steps
          do_eval = self.val_images and (step % eval_every == 0 or is_last)
          do_save = step % checkpoint_every == 0 or is_last
          if do_eval or do_save:
            log_steps(pending, last_saved=last_saved)
            pending = []
          if do_eval:
            with report.timed('eval'):
              val, sr_images = self._validate_at(step, state)
          if do_save:
            self._save(step, state, val if do_eval else None)
            last_saved = step
    finally:
      self.manager.wait_until_finished()
      if history:
        history.close()
    return state, val, sr_images

  def _validate_at(self, step: int, state: PSNRState) -> tuple[dict[str, float], list[np.ndarray]]:
    """Validates the EMA generator; writes the scores (TensorBoard, validation.jsonl) and the SR images."""
    val, val_per_image, sr_images = self.validate(state)
    self.writer.write_scalars(step, {**val, **val_per_image})
    if jax.process_index() == 0:
      validation.append_record(self.stage_dir / 'validation.jsonl', step, {**val, **val_per_image})
    self.writer.write_images(step, {f'val/{item["name"]}': img[None] for item, img in zip(self.val_images, sr_images)})
    logging.info(
      '[%s] step %d: val Y-PSNR %.3f dB, SSIM %.4f (EMA generator)',
      self.stage_name,
      step,
      val['val_psnr'],
      val['val_ssim'],
    )
    return val, sr_images

  def _save(self, step: int, state: PSNRState, metrics: dict[str, float] | None) -> None:
    """Starts saving checkpoint `step` (asynchronously), ranked by `metrics` (None: not validated at this step)."""
    self.manager.save(
      step,
      args=ocp.args.Composite(
        state=ocp.args.StandardSave(serialization.to_state_dict(state)),
        meta=ocp.args.JsonSave({**self.meta, 'step': step}),
      ),
      metrics=metrics,
    )


def export_stage(
  stage_dir: epath.Path,
  generator: nn.Module,
  state: PSNRState,
  val_images: list[dict],
  sr_images: list[np.ndarray] | None,
  scale: int,
) -> None:
  """Writes a finished stage's EMA generator (`export_generator`; unfolded too if it has BatchNorm) and its uint8
  SR images of the validation images as samples/NAME_xSCALE.png."""
  export_generator(stage_dir, *inference_generator(generator, state))
  if state.g_batch_stats:
    model_io.save_model(
      stage_dir / BN_GENERATOR_FILE,
      type(generator).__name__,
      {f: getattr(generator, f) for f in model_io.generator_fields(type(generator))},
      ema_generator(generator, state)[1],
    )
  if val_images:
    (stage_dir / 'samples').mkdir(exist_ok=True)
  for item, img in zip(val_images, sr_images or ()):
    image_io.write_image(stage_dir / 'samples' / f'{item["name"]}_x{scale}.png', img / 255.0)


def _log_steps(
  records: list[tuple[int, dict[str, jax.Array]]],
  writer,
  history,
  lr_schedule,
  log_every_steps: int,
  num_steps: int,
  ckpt_dir: epath.Path,
  last_saved: int | None,
  time_left: progress.TimeLeft,
) -> None:
  """Fetches the losses of `records` ([(step, metrics)], in step order) in one transfer; per step, checks them,
  appends them to history.jsonl (process 0) and writes scalars every `log_every_steps` steps (with the ETA)."""
  fetched = jax.device_get([step_metrics for _, step_metrics in records])
  eta = time_left(records[-1][0]) if records else ''
  for (step, _), step_values in zip(records, fetched):
    values = {k: float(v) for k, v in step_values.items()}
    _check_finite(step, values, ckpt_dir, last_saved)
    if history:
      history.write(json.dumps({'step': step, **values}) + '\n')
    if step % log_every_steps == 0 or step == num_steps:
      writer.write_scalars(step, {**values, 'lr': float(lr_schedule(step - 1))})
      if history:
        losses = ' '.join(f'{k}={v:.4g}' for k, v in values.items())
        print(f'step {step}/{num_steps} {losses}' + (f' {eta}' if eta else ''), flush=True)
  if history:
    history.flush()


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, dict[str, float]]:
  """Runs `config.stages` in order (each resumable) and returns each stage's final validation metrics."""
  config_checks.check(config)
  config_checks.check_batch_sizes(config, jax.device_count(), jax.process_count())
  workdir = storage.path(workdir)
  results = {}
  for stage_name in config.stages:
    results[stage_name] = train_stage(config, stage_name, workdir)
  return results


def print_summary(results: dict[str, dict[str, float]], workdir: str) -> None:
  """Prints each stage's validation Y-PSNR/SSIM of the EMA generator next to bicubic's on the same images."""
  for stage_name, summary in results.items():
    line = f'{stage_name}: {summary["steps"]} steps'
    if 'val_psnr' in summary:
      gain = summary['val_psnr'] - summary['val_psnr_bicubic']
      line += (
        f', validation Y-PSNR {summary["val_psnr"]:.2f} dB (bicubic {summary["val_psnr_bicubic"]:.2f} dB, '
        f'{gain:+.2f} dB), SSIM {summary["val_ssim"]:.4f}'
      )
    if 'val_niqe' in summary:
      line += f', NIQE {summary["val_niqe"]:.3f}'
    print(f'{line}; generator: {storage.path(workdir) / stage_name / GENERATOR_FILE}')
