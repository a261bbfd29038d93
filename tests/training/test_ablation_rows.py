"""Tests for esrgan_jax.training.ablation's report: a variant's row from its stages' summaries, and the markdown of
the results (the end-to-end run is in tests/test_ablation.py)."""

import json

import pytest

from esrgan_jax.configs import default
from esrgan_jax.training import ablation


def _row(variant: str, psnr_from: str | None, trained_as: str, niqe: float | None) -> dict:
  return {
    'variant': variant,
    'generator': 'RRDBNet, 2 blocks x 32 ch',
    'arch': 'RRDBNet',
    'bn': variant == 'srgan_bn',
    'perceptual': 'VGG19 conv5_4 (before activation)',
    'gan_loss': 'RaGAN',
    'psnr_stage_from': psnr_from,
    'trained_as': trained_as,
    'psnr_stage_val_psnr': 27.123,
    'val_psnr': 25.5,
    'val_ssim': 0.71234,
    'val_niqe': niqe,
    'val_psnr_bicubic': 24.0,
  }


RESULTS = {
  'steps_per_stage': 3,
  'demo': True,
  'scale': 4,
  'validation_images': ['chelsea', 'coffee'],
  'variants': [_row('srgan_bn', 'srgan_bn', 'srgan_bn', 6.54321), _row('no_bn', 'srgan_bn', 'srgan_bn', None)],
  'bicubic': {'val_psnr': 24.0, 'val_ssim': 0.6, 'val_niqe': 7.25},
  'strip': {'file': 'ablation_strip.png', 'image': 'chelsea', 'crop': {'size': 64}, 'order': ['bicubic', 'HR']},
}


def test_markdown_renders_every_row_and_the_notes():
  markdown = ablation.render_markdown(RESULTS, ['no VGG19 weights at /w'])
  lines = markdown.splitlines()
  assert lines[0] == '# ESRGAN ablation (paper §4.3, Fig. 7)'
  assert '3 steps per stage' in lines[2] and 'on the demo data' in lines[2] and '(chelsea, coffee)' in lines[2]
  table = [line for line in lines if line.startswith('| ')]
  assert table[1] == (
    '| srgan_bn | RRDBNet, 2 blocks x 32 ch | yes | VGG19 conv5_4 (before activation) | RaGAN | 27.12 | 25.50 | '
    '0.7123 | 6.543 |'
  )
  assert table[2].startswith('| no_bn |') and table[2].endswith('| n/a |')
  assert table[3] == '| bicubic | | | | | | 24.00 | 0.6000 | 7.250 |'
  assert 'Shared PSNR stages (identical generator config, trained once): no_bn from srgan_bn.' in lines
  assert 'Identical training, run once (same numbers and images): no_bn = srgan_bn.' in lines
  assert any(line.startswith('Perceptual loss off where marked "none" (no VGG19 weights at /w)') for line in lines)
  assert (
    markdown.endswith('\n')
    and lines[-1] == 'ablation_strip.png, left to right: bicubic | HR; the central 64x64 HR crop of chelsea.'
  )


def test_markdown_leaves_out_notes_that_do_not_apply():
  results = {**RESULTS, 'demo': False, 'variants': RESULTS['variants'][:1]}
  markdown = ablation.render_markdown(results, [])
  assert 'demo' not in markdown and 'Shared PSNR' not in markdown and 'Identical training' not in markdown
  assert 'Perceptual loss off' not in markdown


def test_variant_row_reads_the_summaries_of_the_stages_it_ran_or_shares(tmp_path):
  for variant, stage, summary in (
    ('a', 'psnr', {'val_psnr': 28.0}),
    ('a', 'gan', {'val_psnr': 26.0, 'val_ssim': 0.8, 'val_psnr_bicubic': 24.0, 'val_niqe': 5.5}),
  ):
    (tmp_path / variant / stage).mkdir(parents=True)
    (tmp_path / variant / stage / 'summary.json').write_text(json.dumps(summary))
  config = default.get_config()
  row = ablation.variant_row(ablation.Variant('b', config, 'a', 'a', 'none (weight 0)'), tmp_path)
  assert row['variant'] == 'b' and row['trained_as'] == 'a' and row['psnr_stage_from'] == 'a'
  assert (row['psnr_stage_val_psnr'], row['val_psnr'], row['val_ssim'], row['val_niqe']) == (28.0, 26.0, 0.8, 5.5)
  assert row['generator'] == ablation.generator_label(config) and row['gan_loss'] == 'RaGAN'
  unshared = ablation.variant_row(ablation.Variant('a', config, None, 'a', 'none (weight 0)'), tmp_path)
  assert unshared['psnr_stage_val_psnr'] != unshared['psnr_stage_val_psnr']  # nan: no PSNR stage
  with pytest.raises(FileNotFoundError):
    ablation.variant_row(ablation.Variant('c', config, None, 'c', ''), tmp_path)
