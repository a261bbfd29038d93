"""Every check of a training config, each made once, with messages naming the field and the fix.

* `check(config)`: the fields (stages, scale, each stage's sizes, schedule, optimiser and best metric, the
  generator's arch and fields, the data sources and degradation, the GAN stage's discriminator and losses);
* `check_batch_sizes(config, device_count, process_count)`: each stage's global batch splits over the devices;
* `check_inputs(config, workdir)`: every input file or folder the config names exists (`input_problems` lists them).

Callers check once at the start: `main` calls `check` and `check_inputs` before TensorFlow loads and the JAX
backends start (so mistakes are reported at once) and `check_batch_sizes` when the devices are known;
`train.train_and_evaluate` calls `check` and `check_batch_sizes`. The builders (`steps.create_generator`,
`input_pipeline.create_train_dataset`, ...) take a checked config. Nothing here imports TensorFlow.
"""

import glob
import os
from pathlib import Path

import ml_collections

from esrgan_jax.data import sources, storage
from esrgan_jax.degradations.pipeline import DRAWS, JPEG_IMPLS
from esrgan_jax.models import srresnet
from esrgan_jax.training import optimizers, validation
from esrgan_jax.training.steps import DISCRIMINATOR_ARCHS
from esrgan_jax.weights import dists_weights, lpips_weights, model_io, perceptual

STAGES = ('psnr', 'gan')  # config.stages
SCALES = (1, 2, 4)  # config.scale
SCHEDULES = ('constant', 'multistep', 'cosine_restarts')  # config.<stage>.schedule
GAN_TYPES = ('ragan', 'vanilla')  # config.gan.gan_type
LEVERS = ('remat', 'scan_blocks')  # config fields that only generators with such a field (RRDBNet) take
MIN_DEGRADED_GT_SIZE = 28  # smallest multiple of 4 that `degradations.pipeline.degrade` takes (26)


def check(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the first bad field of a training config (not its batch against the devices: see
  `check_batch_sizes`)."""
  if not config.stages or any(s not in STAGES for s in config.stages):
    raise ValueError(f'config.stages must be a non-empty sequence of {STAGES}, got {tuple(config.stages)}.')
  if config.scale not in SCALES:
    raise ValueError(f'config.scale must be 4, 2 or 1, got {config.scale}.')
  for name in config.stages:
    _check_stage(name, config[name])
  _check_generator(config)
  for data_name in ('train_data', 'val_data'):
    _check_data(data_name, config[data_name])
  if config.train_data.degradation == 'realesrgan':
    for name in config.stages:
      if config[name].gt_size < MIN_DEGRADED_GT_SIZE:
        raise ValueError(
          f'config.{name}.gt_size is {config[name].gt_size}; the realesrgan degradation needs GT patches of at least '
          f'{MIN_DEGRADED_GT_SIZE} pixels (its 51-pixel sharpening and 21-pixel blur pad by reflection).'
        )
  if 'gan' in config.stages:
    _check_gan(config.gan, config.discriminator.arch)
  if not 0 <= config.ema_decay < 1:
    raise ValueError(f'config.ema_decay must be in [0, 1), got {config.ema_decay}.')


def _check_stage(name: str, stage: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the first bad field of `config.<name>` (sizes, schedule, optimiser, best metric)."""
  if stage.gt_size % 4 or stage.gt_size < 16:
    raise ValueError(f'config.{name}.gt_size must be a multiple of 4 and >= 16, got {stage.gt_size}.')
  if stage.num_steps < 1:
    raise ValueError(f'config.{name}.num_steps must be >= 1, got {stage.num_steps}.')
  if stage.batch_size < 1:
    raise ValueError(f'config.{name}.batch_size: The global batch size must be >= 1, got {stage.batch_size}.')
  _check_best_metric(name, stage)
  _check_optimizer(name, stage)
  if stage.schedule not in SCHEDULES:
    raise ValueError(f'config.{name}.schedule must be constant, multistep or cosine_restarts, got {stage.schedule}.')


def _check_best_metric(name: str, stage: ml_collections.ConfigDict) -> None:
  """Raises ValueError if `stage.best_metric` is unknown or not logged by the stage's validation."""
  if stage.best_metric not in validation.BEST_METRICS:
    raise ValueError(
      f'config.{name}.best_metric must be one of {tuple(validation.BEST_METRICS)}, got {stage.best_metric!r}.'
    )
  logged = {f'val_{metric}' for metric in validation.metric_names(stage)}
  if stage.best_metric not in logged:
    metric = stage.best_metric.removeprefix('val_')
    turn_on = {'lpips': "'alex' (or an LPIPS weights file)", 'dists': "'default' (or a DISTS weights file)"}
    turn_on = turn_on.get(metric, 'True')
    raise ValueError(
      f'config.{name}.best_metric is {stage.best_metric}, but this stage does not validate with {metric}; '
      f'set config.{name}.val_{metric}={turn_on} or choose one of {sorted(logged)}.'
    )


def _check_optimizer(name: str, stage: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the first bad optimiser field of `config.<name>`."""
  if stage.optimizer not in optimizers.OPTIMIZERS:
    raise ValueError(f'config.{name}.optimizer must be one of {optimizers.OPTIMIZERS}, got {stage.optimizer!r}.')
  if stage.optimizer == 'schedule_free_adamw' and stage.schedule != 'constant':
    raise ValueError(
      f"config.{name}.optimizer schedule_free_adamw replaces the lr schedule: set config.{name}.schedule='constant' "
      f'(warmup_iter still applies), got {stage.schedule!r}.'
    )
  for field in ('grad_clip', 'weight_decay', 'warmup_iter'):
    if stage[field] < 0:
      raise ValueError(f'config.{name}.{field} must be >= 0, got {stage[field]}.')
  if not isinstance(stage.accum_iter, int) or stage.accum_iter < 1:
    raise ValueError(f'config.{name}.accum_iter must be an integer >= 1, got {stage.accum_iter!r}.')
  if stage.num_steps % stage.accum_iter:
    raise ValueError(
      f'config.{name}.num_steps ({stage.num_steps}) must be a multiple of accum_iter ({stage.accum_iter}): each '
      f'step is one micro-batch, and the stage must end on a whole update.'
    )


def _check_generator(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError for an unknown `config.model.arch`, a field that arch lacks, a scale it does not take, or
  `remat`/`scan_blocks` on an arch without them."""
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
      f'esrgan_jax.configs.default.compact_model() for SRVGGNetCompact, as configs/compact.py does).'
    )
  if arch == 'MSRResNet' and config.scale not in srresnet.SCALES:
    raise ValueError(f'config.scale {config.scale} is not available for MSRResNet (scales {srresnet.SCALES}).')
  for name in LEVERS:
    if config.get(name) and not hasattr(cls, name):
      raise ValueError(f'config.{name} is for RRDBNet; {arch} has no {name} field. Set config.{name}=False.')


def _check_data(field: str, data: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming a bad source, degradation or degradation option of `config.<field>`."""
  if data.source not in sources.SOURCES:
    raise ValueError(f'config.{field}: data.source = {data.source!r}; choose one of {", ".join(sources.SOURCES)}.')
  if data.degradation not in sources.DEGRADATIONS:
    raise ValueError(
      f'config.{field}: data.degradation = {data.degradation!r}; choose one of {", ".join(sources.DEGRADATIONS)}.'
    )
  if data.degradation != 'realesrgan':
    return
  if data.source == 'paired':
    raise ValueError(
      f"config.{field}: data.degradation = 'realesrgan' synthesises the LR images, but data.source = 'paired' reads "
      "them from lr_dir; use source 'folder' with the HR images, or degradation 'bicubic' to train on the pairs."
    )
  if data.jpeg_impl not in JPEG_IMPLS:
    raise ValueError(f'config.{field}.jpeg_impl must be one of {JPEG_IMPLS}, got {data.jpeg_impl!r}.')
  if data.degradation_draws not in DRAWS:
    raise ValueError(f'config.{field}.degradation_draws must be one of {DRAWS}, got {data.degradation_draws!r}.')


def _check_gan(gan: ml_collections.ConfigDict, discriminator_arch: str) -> None:
  """Raises ValueError naming the first bad field of `config.gan` (or `config.discriminator.arch`)."""
  if discriminator_arch not in DISCRIMINATOR_ARCHS:
    raise ValueError(
      f'config.discriminator.arch must be one of {sorted(DISCRIMINATOR_ARCHS)}, got {discriminator_arch!r}.'
    )
  if discriminator_arch == 'VGGStyleDiscriminator' and gan.gt_size not in (128, 256):
    raise ValueError(
      f'config.gan.gt_size must be 128 or 256 (the VGG-style discriminator input), got {gan.gt_size}; '
      "config.discriminator.arch='UNetDiscriminatorSN' takes any multiple of 8."
    )
  if gan.gt_size % 8:
    raise ValueError(f'config.gan.gt_size must be a multiple of 8 (the U-Net discriminator), got {gan.gt_size}.')
  if gan.ldl_weight < 0:
    raise ValueError(f'config.gan.ldl_weight must be >= 0 (0 = no LDL loss), got {gan.ldl_weight}.')
  if gan.gan_type not in GAN_TYPES:
    raise ValueError(f'config.gan.gan_type must be one of {GAN_TYPES}, got {gan.gan_type!r}.')
  if gan.perceptual_network not in perceptual.PERCEPTUAL_NETWORKS:
    raise ValueError(
      f'config.gan.perceptual_network must be one of {tuple(perceptual.PERCEPTUAL_NETWORKS)}, '
      f'got {gan.perceptual_network!r}.'
    )
  layers = perceptual.network(gan.perceptual_network).layers
  unknown = sorted(set(gan.perceptual_layers) - set(layers))
  if unknown or not gan.perceptual_layers:
    raise ValueError(
      f'config.gan.perceptual_layers names {unknown or "no layer"}; the {gan.perceptual_network} '
      f'layers are {", ".join(layers)}.'
    )


def check_batch_sizes(config: ml_collections.ConfigDict, device_count: int, process_count: int) -> None:
  """Raises ValueError unless each stage's global batch splits evenly over the devices and the processes."""
  for name in config.stages:
    batch = config[name].batch_size
    for count, what in ((device_count, 'devices'), (process_count, 'processes')):
      if batch % count:
        raise ValueError(
          f'config.{name}.batch_size: The global batch size {batch} is not divisible by the {count} {what}; '
          f'use a multiple of {count}.'
        )


# ----------------------------------------------------------------------------------------------------------------
# Input files, checked before anything is built or written.


def _data_problems(data: ml_collections.ConfigDict, field: str) -> list[str]:
  """What is missing among the files of one data stream (`config.train_data` or `config.val_data`)."""
  folders = {'folder': ('hr_dir',), 'paired': ('hr_dir', 'lr_dir')}.get(data.source, ())
  problems = [
    f'config.{field}.{name} = {data[name]!r} is not a folder (source {data.source!r} reads images from it)'
    for name in folders
    if not data[name] or not Path(data[name]).expanduser().is_dir()
  ]
  if data.source == 'tfrecord' and not storage.glob(data.tfrecord_pattern):
    problems.append(
      f'config.{field}.tfrecord_pattern = {data.tfrecord_pattern!r} matches no files '
      '(write shards with `python -m esrgan_jax.prepare --format tfrecord`)'
    )
  if data.source == 'tfds' and data.tfds_data_dir and not storage.path(data.tfds_data_dir).is_dir():
    problems.append(f'config.{field}.tfds_data_dir = {data.tfds_data_dir!r} is not a folder')
  elif data.source == 'tfds':
    problems += _tfds_problems(data, field)
  return problems


def _tfds_problems(data: ml_collections.ConfigDict, field: str) -> list[str]:
  """The TFDS dataset `data.tfds_name` if it is not prepared in its data dir (a folder; cloud paths go unchecked)."""
  data_dir = data.tfds_data_dir or os.environ.get('TFDS_DATA_DIR') or '~/tensorflow_datasets'
  if '://' in data_dir:
    return []
  name, _, version = data.tfds_name.partition(':')
  pattern = Path(data_dir).expanduser() / name / '**' / (version or '*') / 'dataset_info.json'
  if glob.glob(str(pattern), recursive=True):
    return []
  return [
    f'config.{field}: the TFDS dataset {data.tfds_name!r} is not prepared in {data_dir} (config.{field}.tfds_data_dir '
    f'or $TFDS_DATA_DIR); prepare it once with `tfds build {name}` (downloads it), or train from a folder of images '
    f'with --config.{field}.source=folder --config.{field}.hr_dir=DIR'
  ]


def _gan_problems(config: ml_collections.ConfigDict, workdir: Path) -> list[str]:
  """What is missing among the GAN stage's inputs: its starting generator and the perceptual network's weights."""
  gan, problems = config.gan, []
  if (workdir / 'gan' / 'summary.json').is_file():
    return problems  # finished: nothing is loaded
  if gan.pretrained and not storage.path(gan.pretrained).is_file():
    problems.append(f'config.gan.pretrained = {gan.pretrained!r} is not a file')
  elif not gan.pretrained and 'psnr' not in config.stages:
    from esrgan_jax.data import quiet_tensorflow  # pylint: disable=g-import-not-at-top  (TensorFlow: only when needed)

    quiet_tensorflow.import_tensorflow()  # before the trainer's libraries import it with its load-time banner
    from esrgan_jax.training import train  # pylint: disable=g-import-not-at-top

    start = workdir / 'psnr' / train.pretrained_file_name(config)
    if not start.is_file():
      problems.append(
        f'the GAN stage starts from {start}, which does not exist: add the psnr stage '
        "(--config.stages=\"('psnr', 'gan')\") or set --config.gan.pretrained to a generator file"
      )
  if gan.perceptual_weight:
    path = perceptual.weights_path(gan.perceptual_network, gan.vgg_weights or None)
    if not path.is_file():
      row = perceptual.network(gan.perceptual_network).files
      problems.append(
        f'the perceptual loss needs {row.arch} weights at {path} (config.gan.vgg_weights); convert them once with '
        f'`python -m esrgan_jax.convert {gan.perceptual_network} {row.official_file} {path}`'
      )
  return problems


def _metric_weights_problems(config: ml_collections.ConfigDict) -> list[str]:
  """The LPIPS and DISTS weights that a stage's validation names (`val_lpips`, `val_dists`) and that are missing."""
  problems = []
  for name in config.stages:
    if name not in config:
      continue  # an unknown stage: `check` names it
    try:
      if config[name].val_lpips:
        lpips_weights.find_lpips_file(config[name].val_lpips)
    except FileNotFoundError as e:
      problems.append(f'config.{name}.val_lpips: {e}')
    try:
      if config[name].val_dists:
        dists_weights.find_dists_file(config[name].val_dists)
    except FileNotFoundError as e:
      problems.append(f'config.{name}.val_dists: {e}')
  return problems


def input_problems(config: ml_collections.ConfigDict, workdir: str | Path) -> list[str]:
  """One line per input file or folder that `config` names and that is missing; [] when training can start."""
  workdir = storage.path(workdir)
  problems = []
  bucket = storage.bucket(workdir) if storage.is_url(workdir) else None
  if bucket and not bucket.exists():
    problems.append(
      f'--workdir={workdir}: the bucket {bucket} does not exist or this account cannot see it (create it with '
      f'`gcloud storage buckets create {bucket}`, grant access, or choose another --workdir)'
    )
  problems += _data_problems(config.train_data, 'train_data') + _data_problems(config.val_data, 'val_data')
  problems += _metric_weights_problems(config)
  if 'gan' in config.stages:
    problems += _gan_problems(config, workdir)
  return problems


def check_inputs(config: ml_collections.ConfigDict, workdir: str | Path) -> None:
  """Raises FileNotFoundError listing, on one line, every missing input of `config` (see `input_problems`)."""
  problems = input_problems(config, workdir)
  if problems:
    raise FileNotFoundError('Missing training input: ' + '; '.join(problems) + '.')
