"""Checks, before anything is built or written, that every input file a training config names exists."""

import glob
import os
from pathlib import Path

import ml_collections

from esrgan_jax.data import storage
from esrgan_jax.weights import dists_weights, lpips_weights, perceptual


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
    from esrgan_jax.training import train  # pylint: disable=g-import-not-at-top  (TensorFlow: only when needed)

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


def _lpips_problems(config: ml_collections.ConfigDict) -> list[str]:
  """The LPIPS and DISTS weights that a stage's validation names (`val_lpips`, `val_dists`) and that are missing."""
  problems = []
  for name in config.stages:
    if name not in config:
      continue  # an unknown stage: `train.validate_config` names it
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
  problems += _lpips_problems(config)
  if 'gan' in config.stages:
    problems += _gan_problems(config, workdir)
  return problems


def check_inputs(config: ml_collections.ConfigDict, workdir: str | Path) -> None:
  """Raises FileNotFoundError listing, on one line, every missing input of `config` (see `input_problems`)."""
  problems = input_problems(config, workdir)
  if problems:
    raise FileNotFoundError('Missing training input: ' + '; '.join(problems) + '.')
