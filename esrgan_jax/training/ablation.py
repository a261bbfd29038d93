"""The paper's ablation study (§4.3, Fig. 7): train every column's config for the same budget and compare them.

Each variant (a file `<variant>.py` in the configs folder; default: the five Fig. 7 columns) trains N steps per stage
(L1 pre-training, then GAN fine-tuning) into DIR/<variant>, with learning-rate milestones and restart periods scaled
to the budget. Variants whose PSNR stage would be identical (same generator, data and psnr settings) share it: it is
trained once and the others start their GAN stage from its generator; a variant whose whole training would be the same
as an earlier one's (e.g. two perceptual features with the perceptual loss off) is not trained again. Then
DIR/ablation.md (table), DIR/ablation.json and DIR/ablation_strip.png (the same crop of the first validation image:
bicubic | each variant | HR) compare the final GAN-stage EMA generators. Rerunning resumes (finished stages are
skipped). `--demo` trains on the Quickstart's scikit-image photos with demo-size networks and the demo's optimiser
settings and GAN weight, and without the perceptual loss where no weights file exists. Single process (for multi-host
runs, train each config with `esrgan_jax.main`).
"""

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import ml_collections
import numpy as np

from esrgan_jax import configs
from esrgan_jax.configs import CONFIGS_DIR
from esrgan_jax.data import image_io
from esrgan_jax.data.val_images import create_val_images
from esrgan_jax.inference import evaluation, strip
from esrgan_jax.training import config_checks, train, validation
from esrgan_jax.weights import perceptual

COLUMNS = ('srgan_bn', 'no_bn', 'pre_activation', 'ragan', 'esrgan')  # Fig. 7, left to right
DEMO_MODELS = {  # --demo generator sizes; RRDBNet stays the deeper network (2 x 15 convs vs 4 x 2)
  'RRDBNet': dict(num_feat=32, num_block=2, num_grow_ch=16),
  'MSRResNet': dict(num_feat=32, num_block=4),
}
STRIP_CROP = 128  # HR pixels (square) of the strip's crop, at most the image size
STRIP_GAP = 4  # white pixels between the strip's panels


@dataclasses.dataclass
class Variant:
  name: str
  config: ml_collections.ConfigDict
  psnr_from: str | None  # the variant whose PSNR stage this one fine-tunes (itself, or None: no psnr stage)
  same_as: str  # the variant whose training this one's is (itself unless both would train exactly the same)
  perceptual: str  # the perceptual feature as the table shows it
  note: str = ''  # why the perceptual loss is off, if the driver turned it off


def load_variants(configs_dir: str | Path, names: Sequence[str]) -> dict[str, ml_collections.ConfigDict]:
  """{name: config of configs_dir/name.py}, in the given order; clear errors for a missing folder or name."""
  configs_dir = Path(configs_dir)
  if not configs_dir.is_dir():
    raise FileNotFoundError(f'Ablation configs folder {configs_dir} not found (expected files like srgan_bn.py).')
  available = sorted(p.stem for p in configs_dir.glob('*.py') if not p.stem.startswith('_'))
  unknown = [n for n in names if n not in available]
  if unknown:
    raise ValueError(f'Unknown ablation variant(s) {unknown}; {configs_dir} has {", ".join(available) or "none"}.')
  if len(set(names)) != len(names):
    raise ValueError(f'Variants listed twice: {list(names)}.')
  return {n: configs.load_config_file(configs_dir / f'{n}.py') for n in names}


def _scale_schedule(stage: ml_collections.ConfigDict, steps: int) -> None:
  """Sets `stage.num_steps = steps`, scaling the multistep milestones and cosine restart periods alike."""
  ratio = steps / stage.num_steps
  stage.milestones = tuple(max(1, round(m * ratio)) for m in stage.milestones)
  stage.periods = tuple(max(1, round(p * ratio)) for p in stage.periods)
  stage.num_steps = steps


def apply_budget(
  config: ml_collections.ConfigDict, *, steps: int, demo: bool, batch_size: int | None, vgg_weights: str | None
) -> None:
  """Edits a variant's config in place: --demo data/sizes/optimiser settings, N steps per stage, batch, VGG file."""
  if demo:
    demo_config = configs.load_config_file(CONFIGS_DIR / 'demo.py')
    for field in (
      'train_data',
      'val_data',
      'ema_decay',
      'discriminator',
      'log_every_steps',
      'eval_every_steps',
      'checkpoint_every_steps',
      'keep_checkpoints',
    ):
      config[field] = demo_config[field]
    demo_fields = {
      'psnr': ('lr', 'schedule', 'periods', 'restart_weights', 'eta_min'),
      'gan': ('lr_g', 'lr_d', 'schedule', 'gan_weight'),
    }
    for name, fields in demo_fields.items():
      for field in ('num_steps', 'batch_size', 'gt_size') + fields:
        config[name][field] = demo_config[name][field]
    config.model.update(DEMO_MODELS[config.model.arch])
  for name in ('psnr', 'gan'):
    _scale_schedule(config[name], steps)
    if batch_size:
      config[name].batch_size = batch_size
  if vgg_weights and config.gan.perceptual_network == 'vgg19':
    config.gan.vgg_weights = vgg_weights


def perceptual_label(gan: ml_collections.ConfigDict) -> str:
  """e.g. 'VGG19 relu5_4 (after activation)', 'MINC conv53'."""
  label = f'{perceptual.network(gan.perceptual_network).files.label} {", ".join(gan.perceptual_layers)}'
  if gan.perceptual_network == 'vgg19':
    label += (
      ' (after activation)'
      if all(k.startswith('relu') for k in gan.perceptual_layers)
      else (' (before activation)' if all(k.startswith('conv') for k in gan.perceptual_layers) else '')
    )
  return label


def check_perceptual_weights(config: ml_collections.ConfigDict, demo: bool) -> tuple[str, str]:
  """(the variant's perceptual label, note). Loads the weights file once, so a missing or wrong one stops the run
  before any training; except that with `demo` a missing file turns the perceptual loss off and the note says so."""
  gan = config.gan
  if 'gan' not in config.stages or not gan.perceptual_weight:
    return 'none (weight 0)', ''
  row = perceptual.network(gan.perceptual_network).files
  path = perceptual.weights_path(gan.perceptual_network, gan.vgg_weights or None)
  try:
    perceptual.load_params(gan.perceptual_network, path)
  except FileNotFoundError:
    if not demo:
      raise
    gan.perceptual_weight = 0.0
    return f'none: no {row.label} weights file', f'no {row.arch} weights at {path}'
  return perceptual_label(gan), ''


def _psnr_key(config: ml_collections.ConfigDict) -> str:
  """Everything a PSNR stage depends on (all but the GAN stage's and the discriminator's fields)."""
  fields = config.to_dict()
  for name in ('gan', 'discriminator', 'stages'):
    fields.pop(name)
  return json.dumps(fields, sort_keys=True, default=str)


def _run_key(config: ml_collections.ConfigDict, start: str) -> str:
  """Everything a variant's training depends on, given the generator its GAN stage `start`s from; the perceptual
  network's fields only while its loss is on."""
  fields = config.to_dict()
  fields.pop('stages')
  fields['gan']['pretrained'] = start
  if not config.gan.perceptual_weight:
    for name in ('perceptual_network', 'perceptual_layers', 'vgg_weights'):
      fields['gan'].pop(name)
  return json.dumps(fields, sort_keys=True, default=str)


def prepare(
  workdir: str | Path,
  steps: int,
  *,
  configs_dir: str | Path = CONFIGS_DIR / 'ablation',
  variants: Sequence[str] = COLUMNS,
  demo: bool = False,
  batch_size: int | None = None,
  vgg_weights: str | None = None,
) -> list[Variant]:
  """The variants' final configs, checked before anything trains (ValueError / FileNotFoundError on bad input).

  A PSNR stage identical to an earlier variant's is not trained again: the later one sets `gan.pretrained` to it.
  A variant that would train exactly as an earlier one is marked `same_as` it.
  """
  if steps < 1:
    raise ValueError(f'--steps must be >= 1, got {steps}.')
  planned, psnr_owners, run_owners = [], {}, {}
  for name, config in load_variants(configs_dir, variants).items():
    if 'gan' not in config.stages:
      raise ValueError(
        f'Variant {name}: the ablation compares GAN-stage generators, but its config.stages is {tuple(config.stages)}.'
      )
    apply_budget(config, steps=steps, demo=demo, batch_size=batch_size, vgg_weights=vgg_weights)
    try:
      perceptual, note = check_perceptual_weights(config, demo)
    except FileNotFoundError as e:
      raise FileNotFoundError(f'Variant {name}: {e}') from e
    config_checks.check(config)
    psnr_from = None
    if 'psnr' in config.stages:
      psnr_from = psnr_owners.setdefault(_psnr_key(config), name)
      if psnr_from != name:
        config.stages = tuple(s for s in config.stages if s != 'psnr')
        config.gan.pretrained = str(Path(workdir) / psnr_from / 'psnr' / train.pretrained_file_name(config))
    same_as = run_owners.setdefault(
      _run_key(config, f'psnr of {psnr_from}' if psnr_from else config.gan.pretrained), name
    )
    planned.append(Variant(name, config, psnr_from, same_as, perceptual, note))
  return planned


def generator_label(config: ml_collections.ConfigDict) -> str:
  return f'{config.model.arch}, {config.model.num_block} blocks x {config.model.num_feat} ch'


def _summary(workdir: Path, variant: str, stage: str) -> dict:
  return json.loads((workdir / variant / stage / 'summary.json').read_text())


def write_strip(path: Path, item: dict, scale: int, sr_images: list[np.ndarray]) -> dict:
  """Writes the central crop of bicubic | each SR image | HR side by side; returns the crop {'top', 'left', 'size'}."""
  hr = item['hr']
  size = min(STRIP_CROP, *hr.shape[:2]) // scale * scale
  top, left = (hr.shape[0] - size) // 2 // scale * scale, (hr.shape[1] - size) // 2 // scale * scale
  panels = [evaluation.bicubic_upscale(item['lr'], scale) / 255.0, *sr_images, hr]
  image_io.write_image(
    path, strip.side_by_side([img[top : top + size, left : left + size] for img in panels], STRIP_GAP)
  )
  return {'top': top, 'left': left, 'size': size}


def variant_row(variant: Variant, workdir: Path) -> dict:
  """The table row of a trained variant: its config's choices and the final figures of its stages' summaries."""
  gan = _summary(workdir, variant.same_as, 'gan')
  psnr = _summary(workdir, variant.psnr_from, 'psnr') if variant.psnr_from else {'val_psnr': float('nan')}
  config = variant.config
  return {
    'variant': variant.name,
    'generator': generator_label(config),
    'arch': config.model.arch,
    'bn': bool(config.model.get('use_bn')),
    'perceptual': variant.perceptual,
    'gan_loss': {'ragan': 'RaGAN', 'vanilla': 'standard'}[config.gan.gan_type],
    'psnr_stage_from': variant.psnr_from,
    'trained_as': variant.same_as,
    'psnr_stage_val_psnr': psnr['val_psnr'],
    'val_psnr': gan['val_psnr'],
    'val_ssim': gan['val_ssim'],
    'val_niqe': gan.get('val_niqe'),  # None where the GAN stage validated without NIQE
    'val_psnr_bicubic': gan['val_psnr_bicubic'],
  }


def render_markdown(results: dict, notes: Sequence[str]) -> str:
  """ablation.md of `results` (the ablation.json contents) and the notes of variants whose perceptual loss the
  driver turned off."""
  scale, rows, bicubic, strip_info = results['scale'], results['variants'], results['bicubic'], results['strip']
  lines = [
    '# ESRGAN ablation (paper §4.3, Fig. 7)',
    '',
    f'{results["steps_per_stage"]} steps per stage (L1 pre-training, then GAN fine-tuning) for every variant'
    f'{", on the demo data with demo-size networks" if results["demo"] else ""}. Y-PSNR (dB) / SSIM: Y channel, '
    f'{scale} border pixels cropped, mean over the validation images ({", ".join(results["validation_images"])}); '
    'the GAN-stage columns are the final EMA generator of each variant.',
    '',
    '| variant | generator | BN | perceptual feature | GAN loss | PSNR-stage Y-PSNR | Y-PSNR | SSIM | NIQE |',
    '|---|---|---|---|---|---|---|---|---|',
  ]
  for r in rows:
    lines.append(
      f'| {r["variant"]} | {r["generator"]} | {"yes" if r["bn"] else "no"} | {r["perceptual"]} | '
      f'{r["gan_loss"]} | {r["psnr_stage_val_psnr"]:.2f} | {r["val_psnr"]:.2f} | {r["val_ssim"]:.4f} | '
      f'{_niqe_cell(r["val_niqe"])} |'
    )
  lines.append(
    f'| bicubic | | | | | | {bicubic["val_psnr"]:.2f} | {bicubic["val_ssim"]:.4f} | '
    f'{_niqe_cell(bicubic.get("val_niqe"))} |'
  )
  lines += [
    '',
    f'NIQE (lower is better; BasicSR/MATLAB `niqe`, {scale} border pixels cropped) measures how natural the images '
    'look without the HR image, the quality GAN fine-tuning is for; n/a where the GAN stage validated without it '
    '(config.gan.val_niqe off, or validation images under 96x192 pixels). The perceptual index (Ma et al.) is not '
    'given: its trained regression model cannot be obtained here. Look at the strip too.',
  ]
  shared = [
    f'{r["variant"]} from {r["psnr_stage_from"]}' for r in rows if r['psnr_stage_from'] not in (r['variant'], None)
  ]
  if shared:
    lines.append(f'Shared PSNR stages (identical generator config, trained once): {"; ".join(shared)}.')
  same = [f'{r["variant"]} = {r["trained_as"]}' for r in rows if r['trained_as'] != r['variant']]
  if same:
    lines.append(f'Identical training, run once (same numbers and images): {"; ".join(same)}.')
  if notes:
    lines.append(
      f'Perceptual loss off where marked "none" ({"; ".join(notes)}): those variants train the same '
      'losses whichever perceptual feature their config names.'
    )
  crop = strip_info['crop']
  lines += [
    '',
    f'{strip_info["file"]}, left to right: {" | ".join(strip_info["order"])}; the central {crop["size"]}x'
    f'{crop["size"]} HR crop of {strip_info["image"]}.',
    '',
  ]
  return '\n'.join(lines)


def _niqe_cell(value: float | None) -> str:
  return 'n/a' if value is None else f'{value:.3f}'


def report(variants: list[Variant], workdir: Path, steps: int, demo: bool) -> str:
  """Writes ablation.md, ablation.json and ablation_strip.png into `workdir`; returns the markdown."""
  scale = variants[0].config.scale
  val_images = create_val_images(variants[0].config.val_data, scale=scale)
  with_niqe = validation.usable_metrics(
    validation.metric_names(variants[0].config.gan), val_images, scale, 'gan', 'val_psnr'
  )
  first = val_images[0]
  samples = [
    image_io.read_image(workdir / v.same_as / 'gan' / 'samples' / f'{first["name"]}_x{scale}.png') for v in variants
  ]
  crop = write_strip(workdir / 'ablation_strip.png', first, scale, samples)
  results = {
    'steps_per_stage': steps,
    'demo': demo,
    'scale': scale,
    'validation_images': [i['name'] for i in val_images],
    'variants': [variant_row(v, workdir) for v in variants],
    'bicubic': train.bicubic_metrics(val_images, scale, with_niqe),
    'strip': {
      'file': 'ablation_strip.png',
      'image': first['name'],
      'crop': crop,
      'order': ['bicubic', *(v.name for v in variants), 'HR'],
    },
  }
  markdown = render_markdown(results, sorted({v.note for v in variants if v.note}))
  (workdir / 'ablation.md').write_text(markdown)
  (workdir / 'ablation.json').write_text(json.dumps(results, indent=2))
  return markdown


def run(variants: list[Variant], workdir: str | Path, steps: int, demo: bool) -> str:
  """Trains (or resumes) every prepared variant, then writes and returns the report (see the module docstring)."""
  workdir = Path(workdir)
  for v in variants:
    shared = (
      ''
      if v.psnr_from in (v.name, None)
      else (f' (PSNR stage shared with {v.psnr_from}: identical generator config, trained once)')
    )
    print(
      f'== {v.name}: {generator_label(v.config)}, BN {"yes" if v.config.model.get("use_bn") else "no"}, '
      f'perceptual {v.perceptual}, GAN {v.config.gan.gan_type}{shared}',
      flush=True,
    )
    if v.same_as != v.name:
      print(f'   trains exactly as {v.same_as} here: not trained again', flush=True)
      continue
    (workdir / v.name).mkdir(parents=True, exist_ok=True)
    (workdir / v.name / 'config.json').write_text(v.config.to_json(indent=2))
    train.train_and_evaluate(v.config, str(workdir / v.name))
  return report(variants, workdir, steps, demo)
