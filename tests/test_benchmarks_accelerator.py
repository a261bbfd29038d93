"""benchmarks/accelerator.py --tiny in a subprocess, without TensorFlow, ml_collections, clu or psutil (as on the
GPU machine): every section writes its rows and the correctness checks pass."""

import json
import subprocess
import sys
from pathlib import Path

from helpers import TEST_XLA_FLAGS

ROOT = Path(__file__).resolve().parent.parent
# Runs the script with the packages the GPU machine lacks made unimportable.
RUNNER = """
import runpy, sys
for name in ('tensorflow', 'tensorflow_datasets', 'ml_collections', 'clu', 'psutil'):
  sys.modules[name] = None
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_path(sys.argv[0], run_name='__main__')
"""


def test_tiny_run_writes_every_section(tmp_path):
  script = str(ROOT / 'benchmarks' / 'accelerator.py')
  result = subprocess.run(
    [sys.executable, '-c', RUNNER, script, str(tmp_path), '--tiny'],
    env={'PATH': '/usr/bin:/bin', 'JAX_PLATFORMS': 'cpu', 'HOME': str(tmp_path), 'XLA_FLAGS': TEST_XLA_FLAGS},
    capture_output=True,
    text=True,
    timeout=1800,
  )
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  data = json.loads((tmp_path / 'results_gpu.json').read_text())
  rows = {(r['section'], r['case'], r['impl']): r for r in data['rows']}
  for precision, torch_impl, cases in (
    ('bf16', 'torch AMP bf16', ('psnr b2 gt32', 'gan b2 gt128')),
    ('fp32', 'torch fp32', ('psnr b2 gt32',)),
  ):
    for case in cases:
      ours = rows[(f'train {precision}', case, f'ours jit {precision}')]
      assert ours['smoke_ok'] and ours['note'].startswith('smoke ok') and ours['per_s'] > 0
      assert ours['speedup'][torch_impl] > 0 and rows[(f'train {precision}', case, torch_impl)]['per_s'] > 0
  for case in ('LR 8x8 b1', 'LR 16x16 b2'):
    for impl in ('ours jit fp32', 'ours jit bf16', 'torch fp32', 'torch AMP fp16', 'torch AMP bf16'):
      row = rows[('inference', case, impl)]
      assert row['median_ms'] > 0 and row['tflops'] > 0, row
    assert set(rows[('inference', case, 'ours jit bf16')]['speedup']) == {
      'torch fp32',
      'torch AMP fp16',
      'torch AMP bf16',
    }
  assert rows[('inference', 'LR 16x16 b1', 'ours bf16 vs ours fp32')]['bf16_ok']
  assert rows[('tiled', '64x36 x4', 'ours bf16 tiles 16+2x16, 4 per call')]['note'].startswith('output 256x144')
  assert ('tiled', '64x36 x4', 'torch AMP bf16 whole frame') in rows
  assert rows[('degradation', 'gt 32 b2', 'ours jit fp32')]['per_s'] > 0
  video = rows[('video', 'compact 24x16 x4, 6 frames', 'ours bf16 video path')]
  assert video['per_s'] > 0 and video['speedup']['torch fp32 Real-ESRGAN-style'] > 0
  markdown = (tmp_path / 'RESULTS_gpu.md').read_text()
  for heading in (
    '## train bf16',
    '## inference',
    '## train fp32',
    '## tiled',
    '## degradation',
    '## video',
    '## Notes',
  ):
    assert heading in markdown
  assert '| gan b2 gt128 | ours jit bf16 |' in markdown
  assert 'torch.compile skipped' in markdown and 'Correctness checks: all passed' in markdown


def test_recipe_matches_the_default_config():
  sys.path.insert(0, str(ROOT / 'benchmarks'))
  import accelerator  # pylint: disable=g-import-not-at-top

  from esrgan_jax.configs import default  # pylint: disable=g-import-not-at-top

  config = default.get_config()
  for stage_name, fields in accelerator.RECIPE.items():
    stage = config[stage_name].to_dict()
    assert {k: stage[k] for k in fields} == fields
    assert {k: config[stage_name][k] for k in ('b1', 'b2')} == {k: accelerator.ADAM[k] for k in ('b1', 'b2')}
    assert config[stage_name].batch_size == accelerator.FULL.batch == 16
    assert config[stage_name].gt_size == accelerator.FULL.gt[stage_name]
  assert config.ema_decay == accelerator.EMA_DECAY
  assert dict(config.model) == {
    'arch': 'RRDBNet',
    'res_scale': 0.2,
    'init_scale': 0.1,
    'use_bn': False,
    **accelerator.FULL.net,
  }
  assert config.discriminator.num_feat == accelerator.FULL.d_feat


def test_train_steps_compute_what_mains_step_computes():
  """accelerator.ours_train's jitted steps, from their own state, give what `step_builder.build_train_step` (the
  step `main` runs and `esrgan_jax.aot` compiles) gives from the same state and batch, at --tiny sizes."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  sys.path.insert(0, str(ROOT / 'benchmarks'))
  import accelerator  # pylint: disable=g-import-not-at-top

  from esrgan_jax.configs import default
  from esrgan_jax.training import step_builder, steps  # pylint: disable=g-import-not-at-top

  size = accelerator.TINY
  config = default.get_config()
  config.model.update(**size.net)
  config.discriminator.num_feat = size.d_feat
  config.ema_decay = accelerator.EMA_DECAY
  mesh = steps.create_mesh(jax.devices()[:1])
  for stage_name in ('psnr', 'gan'):
    stage = accelerator.stage_fields(stage_name, size)
    fields = {k: v for k, v in vars(stage).items() if k in config[stage_name] and k != 'perceptual_layers'}
    config[stage_name].update(fields)
    if stage_name == 'gan':
      config.gan.perceptual_layers = size.layers  # replaced, not merged into the default's
    batch = accelerator.synthetic_batch(size.batch, stage.gt_size)
    step, state, extra, _ = accelerator.ours_train(stage_name, stage, size, None, batch)
    mains = step_builder.build_train_step(config, stage_name, mesh, extra_args=extra)
    expected, expected_metrics = jax.device_get(mains(jax.tree.map(jax.numpy.copy, state), batch))
    got, got_metrics = jax.device_get(step(state, batch, *extra))
    for a, b in zip(jax.tree.leaves((got, got_metrics)), jax.tree.leaves((expected, expected_metrics)), strict=True):
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=stage_name)
