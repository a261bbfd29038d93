"""The ablation configs (one per Fig. 7 column) and `python -m esrgan_jax.ablation` end to end on the demo data."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax import ablation, configs
from esrgan_jax.configs import default
from esrgan_jax.data import image_io
from esrgan_jax.models.vgg import VGG19Features
from esrgan_jax.training import ablation as ablation_lib
from esrgan_jax.training import config_checks, train
from esrgan_jax.weights import model_io

CONFIGS = Path(__file__).resolve().parent.parent / 'configs'
TINY_MODELS = {'RRDBNet': dict(num_feat=8, num_block=1, num_grow_ch=4), 'MSRResNet': dict(num_feat=8, num_block=1)}
MSRRESNET_TO_RRDBNET = {
  'model.arch': ('MSRResNet', 'RRDBNet'),
  'model.num_block': (16, 23),
  'model.num_grow_ch': (None, 32),
  'model.res_scale': (None, 0.2),
  'model.init_scale': (None, 0.1),
}
# Each file's fields against the previous one's (srgan_bn: against configs/gan.py), as the docstrings describe.
COLUMN_CHANGES = {
  'srgan_bn': {
    'stages': (('gan',), ('psnr', 'gan')),
    'model.use_bn': (False, True),
    'gan.perceptual_layers': ({'conv5_4': 1.0}, {'relu5_4': 1.0}),
    'gan.gan_type': ('ragan', 'vanilla'),
    **{k: (b, a) for k, (a, b) in MSRRESNET_TO_RRDBNET.items()},
  },
  'no_bn': {'model.use_bn': (True, False)},
  'pre_activation': {'gan.perceptual_layers': ({'relu5_4': 1.0}, {'conv5_4': 1.0})},
  'ragan': {'gan.gan_type': ('vanilla', 'ragan')},
  'esrgan': MSRRESNET_TO_RRDBNET,
  'esrgan_minc': {
    'gan.perceptual_network': ('vgg19', 'minc'),
    'gan.perceptual_layers': ({'conv5_4': 1.0}, {'conv53': 1.0}),
  },
}


def flat_fields(config) -> dict:
  """'section.field' -> value; perceptual_layers stays one dict-valued field."""
  out = {}

  def walk(tree, prefix):
    for key, value in tree.items():
      if isinstance(value, dict) and key != 'perceptual_layers':
        walk(value, f'{prefix}{key}.')
      else:
        out[prefix + key] = value

  walk(config.to_dict(), '')
  return out


def vgg19_file(folder: Path) -> Path:
  """A VGG19Features weights file with random weights."""
  path = folder / 'vgg19.msgpack'
  model_io.save_model(
    path, 'VGG19Features', {}, {'params': VGG19Features().init(jax.random.key(0), jnp.zeros((1, 16, 16, 3)))['params']}
  )
  return path


def test_each_column_changes_exactly_one_thing():
  previous = flat_fields(configs.load_config_file(CONFIGS / 'gan.py'))
  for name, expected in COLUMN_CHANGES.items():
    config = configs.load_config_file(CONFIGS / 'ablation' / f'{name}.py')
    config_checks.check(config)
    current = flat_fields(config)
    diff = {
      k: (previous.get(k), current.get(k))
      for k in previous.keys() | current.keys()
      if previous.get(k) != current.get(k)
    }
    assert diff == expected, name
    previous = current
  esrgan = configs.load_config_file(CONFIGS / 'ablation' / 'esrgan.py')
  assert esrgan.to_dict() == default.get_config().to_dict()  # the last column is ESRGAN itself
  assert tuple(COLUMN_CHANGES)[:5] == ablation_lib.COLUMNS


def test_bad_input_gives_clear_errors(tmp_path, capsys):
  with pytest.raises(ValueError, match=r"Unknown ablation variant\(s\) \['srgan'\]; .* has esrgan, esrgan_minc, no_bn"):
    ablation_lib.prepare(tmp_path, 2, variants=['srgan'])
  with pytest.raises(FileNotFoundError, match='Ablation configs folder .*nowhere not found'):
    ablation_lib.prepare(tmp_path, 2, configs_dir=tmp_path / 'nowhere')
  missing = tmp_path / 'vgg19.msgpack'
  with pytest.raises(FileNotFoundError, match=f'Variant no_bn: .*{missing}.*python -m esrgan_jax.convert vgg19'):
    ablation_lib.prepare(tmp_path, 2, variants=['no_bn'], vgg_weights=str(missing))
  assert ablation.main(['--workdir', str(tmp_path), '--steps', '0']) == 2
  assert 'error: --steps must be >= 1' in capsys.readouterr().err
  assert not list(tmp_path.iterdir())  # nothing trained or written


def test_demo_prepare_turns_off_a_missing_perceptual_loss_and_shares_psnr_stages(tmp_path):
  variants = ablation_lib.prepare(tmp_path, 5, demo=True, vgg_weights=str(tmp_path / 'none.msgpack'))
  assert [v.name for v in variants] == list(ablation_lib.COLUMNS)
  assert [v.psnr_from for v in variants] == ['srgan_bn', 'no_bn', 'no_bn', 'no_bn', 'esrgan']
  # without the perceptual loss, pre_activation (conv5_4) trains exactly as no_bn (relu5_4)
  assert [v.same_as for v in variants] == ['srgan_bn', 'no_bn', 'no_bn', 'ragan', 'esrgan']
  assert all(v.config.gan.perceptual_weight == 0 and v.perceptual == 'none: no VGG19 weights file' for v in variants)
  ragan = variants[3].config
  assert ragan.stages == ('gan',) and ragan.gan.pretrained == str(tmp_path / 'no_bn' / 'psnr' / 'generator.msgpack')
  assert variants[0].config.stages == ('psnr', 'gan') and variants[0].config.model.num_feat == 32
  assert (ragan.psnr.num_steps, ragan.gan.num_steps, ragan.psnr.periods, ragan.gan.gan_weight) == (5, 5, (5,), 1e-3)
  with_vgg = ablation_lib.prepare(
    tmp_path, 5, variants=['no_bn', 'pre_activation'], vgg_weights=str(vgg19_file(tmp_path))
  )
  assert [v.same_as for v in with_vgg] == ['no_bn', 'pre_activation']
  assert with_vgg[1].perceptual == 'VGG19 conv5_4 (before activation)' and with_vgg[1].config.gan.perceptual_weight == 1
  assert with_vgg[1].config.gan.milestones == (1, 1, 2, 4)  # 50k, 100k, 200k, 300k of 400k steps, scaled to 5
  assert ragan.train_data.source == 'demo' and variants[4].config.model.num_grow_ch == 16


def test_ablation_end_to_end_on_demo_data(tmp_path, monkeypatch, capsys):
  """Three columns, 2 steps per stage, tiny networks, a random VGG19 so the perceptual loss runs; then a rerun."""
  monkeypatch.setattr(ablation_lib, 'DEMO_MODELS', TINY_MODELS)
  vgg_file = vgg19_file(tmp_path)
  workdir = tmp_path / 'run'
  argv = [
    '--workdir',
    str(workdir),
    '--steps',
    '2',
    '--demo',
    '--batch-size',
    '8',
    '--vgg-weights',
    str(vgg_file),
    '--variants',
    'srgan_bn',
    'no_bn',
    'pre_activation',
  ]
  assert ablation.main(argv) == 0
  out = capsys.readouterr().out
  assert 'pre_activation: MSRResNet' in out and 'PSNR stage shared with no_bn' in out

  report = json.loads((workdir / 'ablation.json').read_text())
  rows = {r['variant']: r for r in report['variants']}
  assert list(rows) == ['srgan_bn', 'no_bn', 'pre_activation']
  assert all(r['trained_as'] == name for name, r in rows.items())
  assert [(r['bn'], r['perceptual'], r['gan_loss'], r['psnr_stage_from']) for r in rows.values()] == [
    (True, 'VGG19 relu5_4 (after activation)', 'standard', 'srgan_bn'),
    (False, 'VGG19 relu5_4 (after activation)', 'standard', 'no_bn'),
    (False, 'VGG19 conv5_4 (before activation)', 'standard', 'no_bn'),
  ]
  for r in rows.values():
    assert np.isfinite(r['val_psnr']) and 0 < r['val_ssim'] <= 1
    assert r['val_psnr_bicubic'] == pytest.approx(report['bicubic']['val_psnr'])
  assert rows['pre_activation']['psnr_stage_val_psnr'] == rows['no_bn']['psnr_stage_val_psnr']
  assert not (workdir / 'pre_activation' / 'psnr').exists()
  assert (workdir / 'srgan_bn' / 'psnr' / train.BN_GENERATOR_FILE).is_file()
  module, _ = model_io.load_generator(workdir / 'srgan_bn' / 'gan' / train.GENERATOR_FILE)
  assert not module.use_bn  # exported generators have their BatchNorm folded
  for name in rows:
    assert len((workdir / name / 'gan' / 'history.jsonl').read_text().splitlines()) == 2
    assert json.loads((workdir / name / 'gan' / 'history.jsonl').read_text().splitlines()[0])['l_g_percep'] > 0

  markdown = (workdir / 'ablation.md').read_text()
  table = [line for line in markdown.splitlines() if line.startswith('| ')]
  assert table[0].startswith('| variant | generator | BN | perceptual feature | GAN loss |')
  assert [line.split(' | ')[0] for line in table[1:]] == ['| srgan_bn', '| no_bn', '| pre_activation', '| bicubic']
  assert 'NIQE (lower is better' in markdown and table[0].endswith('| Y-PSNR | SSIM | NIQE |')
  assert all(np.isfinite(r['val_niqe']) for r in rows.values()) and np.isfinite(report['bicubic']['val_niqe'])
  assert 'left to right: bicubic | srgan_bn | no_bn | pre_activation | HR' in markdown
  assert report['strip']['order'] == ['bicubic', 'srgan_bn', 'no_bn', 'pre_activation', 'HR']
  strip = image_io.read_image(workdir / 'ablation_strip.png')
  assert strip.shape == (128, 5 * 128 + 4 * ablation_lib.STRIP_GAP, 3)
  hr_crop = strip[:, -128:]
  assert report['strip']['image'] == 'chelsea' and report['strip']['crop']['size'] == 128

  assert ablation.main(argv) == 0  # rerun: every stage is already complete
  assert len((workdir / 'no_bn' / 'psnr' / 'history.jsonl').read_text().splitlines()) == 2
  np.testing.assert_array_equal(image_io.read_image(workdir / 'ablation_strip.png')[:, -128:], hr_crop)
