"""benchmarks/accelerator.py: its --tiny run in a subprocess, without TensorFlow or clu (as on the GPU machine;
ml_collections and psutil come as wheels), writes every section's rows and passes the correctness checks; its train
steps are the ones `main` runs for the shipped configs."""

import functools
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import TEST_XLA_FLAGS

ROOT = Path(__file__).resolve().parent.parent
# Runs the script with the packages the GPU machine lacks made unimportable (ml_collections and psutil come as wheels).
RUNNER = """
import runpy, sys
for name in ('tensorflow', 'tensorflow_datasets', 'clu'):
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


def test_imports_no_tensorflow():
  """The GPU machine has no TensorFlow: importing the script and building its train steps' configs must not load it
  (nor tensorflow_datasets, clu or psutil), even where they are installed."""
  code = (
    'import sys; sys.path.insert(0, "benchmarks"); import accelerator; '
    '[accelerator.train_config(s, "bf16", accelerator.FULL) for s in accelerator.TRAIN_CONFIGS]; '
    'print(sorted({"tensorflow", "tensorflow_datasets", "clu", "psutil"} & set(sys.modules)))'
  )
  env = {'PATH': '/usr/bin:/bin', 'JAX_PLATFORMS': 'cpu', 'PYTHONPATH': str(ROOT), 'XLA_FLAGS': TEST_XLA_FLAGS}
  result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.strip().splitlines()[-1] == '[]'


@pytest.mark.parametrize('stage_name', ['psnr', 'gan'])
def test_train_steps_are_mains_step_of_the_shipped_configs(stage_name):
  """The step accelerator.py times is the one `main` trains with for the shipped config (`step_builder`), changed
  only in the fields the script names: the configs differ from the shipped one in --tiny's fields and
  `half_precision` alone, both steps lower to the same program, and one step from the same state gives bit-identical
  states and losses."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  sys.path.insert(0, str(ROOT / 'benchmarks'))
  import accelerator  # pylint: disable=g-import-not-at-top

  from esrgan_jax.training import step_builder, steps  # pylint: disable=g-import-not-at-top

  shipped = importlib.import_module(accelerator.TRAIN_CONFIGS[stage_name]).get_config()
  assert shipped.stages == (stage_name,) and not shipped.half_precision
  expected = shipped.to_dict()
  assert accelerator.train_config(stage_name, 'bf16', accelerator.FULL).to_dict() == {
    **expected,
    'half_precision': True,
  }
  for path, value in accelerator.TINY_FIELDS.items():
    *parents, name = path.split('.')
    functools.reduce(dict.__getitem__, parents, expected)[name] = value
  config = accelerator.train_config(stage_name, 'fp32', accelerator.TINY)
  assert config.to_dict() == expected

  stage = config[stage_name]
  batch = accelerator.synthetic_batch(stage.batch_size, stage.gt_size, config.scale)
  step, state, device_batch = accelerator.ours_train(config, stage_name, batch)
  mains = step_builder.build_train_step(config, stage_name, steps.create_mesh(jax.devices()[:1]), step.extra_args)
  assert mains.lower(state, device_batch).as_text() == step.lower(state, device_batch).as_text()
  expected = jax.device_get(mains(jax.tree.map(jax.numpy.copy, state), device_batch))
  got = jax.device_get(step(state, device_batch))
  assert int(got[0].step) == 1
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
    np.testing.assert_array_equal(a, b, err_msg=stage_name)
