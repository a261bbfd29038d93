"""Runs every benchmark and writes benchmarks/RESULTS.md: the machine, versions, date, load and every row.

    python benchmarks/run_all.py [--full] [--no-flag-study]

Default: the --quick variant of each benchmark (about 20 minutes on 2 CPU cores); --full runs the full grids (hours on
CPU). The flag study reruns a small inference and train-step case under three XLA_FLAGS settings. RESULTS.md is
rewritten above the line `NOTES_MARKER`; the hand-written notes below it are kept.
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

from esrgan_jax import runtime

HERE = Path(__file__).resolve().parent
RESULTS = HERE / 'RESULTS.md'
NOTES_MARKER = '<!-- Everything below this line is kept when run_all.py rewrites this file. -->'
PACKAGES = ('jax', 'jaxlib', 'flax', 'optax', 'numpy', 'torch', 'tensorflow-cpu')
FLAG_SETTINGS = {  # name -> XLA_FLAGS; esrgan_jax.runtime.fast_cpu_flags picks one of the last two
  "jaxlib's defaults (XLA_FLAGS='')": '',
  'YNNPACK fusions off (ynn_fusion_type=)': '--xla_cpu_experimental_ynn_fusion_type=',
  'YNNPACK conv+eltwise fusions (ynn_fusion_type=+eltwise)': '--xla_cpu_experimental_ynn_fusion_type=+eltwise',
}


# A 4-block net at RDB init 3.0 gives Real-ESRGAN's tiler seams like RealESRGAN_x4plus's (issue 15: max 52 levels).
SEAMS_ARGS = [
  '--num_block',
  '4',
  '--size',
  '96',
  '--tile',
  '48',
  '--init_scales',
  '0.1',
  '3.0',
  '--pads',
  '4',
  '8',
  '16',
]


def run(script: str, args: list[str], xla_flags: str | None = None) -> list[dict]:
  """Runs benchmarks/`script` with `args` (+ --json) and returns its rows; its output streams to ours."""
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  if xla_flags is not None:
    env['XLA_FLAGS'] = xla_flags
  with tempfile.TemporaryDirectory() as tmp:
    out = Path(tmp) / 'rows.json'
    print(
      f'\n$ {"XLA_FLAGS=" + repr(xla_flags) + " " if xla_flags is not None else ""}python {script} {" ".join(args)}',
      flush=True,
    )
    subprocess.run([sys.executable, str(HERE / script), *args, '--json', str(out)], env=env, check=True)
    return json.loads(out.read_text())


def run_text(script: str, args: list[str]) -> str:
  """Runs benchmarks/`script` with `args` and returns (and echoes) what it prints."""
  print(f'\n$ python {script} {" ".join(args)}', flush=True)
  out = subprocess.run([sys.executable, str(HERE / script), *args], check=True, capture_output=True, text=True).stdout
  print(out, flush=True)
  return out


def machine() -> list[str]:
  cpu = platform.processor()
  if Path('/proc/cpuinfo').is_file():
    names = [
      line.split(':', 1)[1].strip()
      for line in Path('/proc/cpuinfo').read_text().splitlines()
      if line.startswith('model name')
    ]
    cpu = names[0] if names else cpu
  versions = []
  for name in PACKAGES:
    try:
      versions.append(f'{name} {importlib.metadata.version(name)}')
    except importlib.metadata.PackageNotFoundError:
      pass
  return [
    f'- Date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}',
    f'- CPU: {cpu}, {psutil.cpu_count(logical=False)} cores / {psutil.cpu_count()} threads, '
    f'{psutil.virtual_memory().total / 2**30:.0f} GiB RAM; {platform.platform()}',
    '- GPU: not measured (no device lent in this session)',
    f'- Python {platform.python_version()}; ' + ', '.join(versions),
    f'- Host kind: {runtime.host_kind() or "not one measured (jaxlib defaults)"}, so esrgan_jax sets '
    f'`XLA_FLAGS={" ".join(runtime.fast_cpu_flags())}` for inference and '
    f'`XLA_FLAGS={" ".join(runtime.fast_cpu_flags(training=True))}` for training (esrgan_jax/runtime.py)',
    f'- `upscale` and the inference benchmarks run JAX with one CPU device per core ({runtime.usable_cores()} here; '
    '`runtime.use_cpu_device_per_core`): batches of images or tiles split over them, each part on its own core '
    'and compiled with `runtime.batch_split_compiler_options()`',
  ]


def _fmt(value, spec: str) -> str:
  return '' if value is None else format(value, spec)


def table(rows: list[dict], extra: tuple[tuple[str, str, str], ...] = ()) -> list[str]:
  """Markdown table; `extra` = (header, row key, format) columns after the common ones."""
  baselines = list(dict.fromkeys(name for r in rows for name in r['speedup']))
  header = ['case', 'implementation', 'median s', 'min s', 'n', 'per s', 'GFLOP/s']
  header += [f'speed-up vs {b}' for b in baselines] + [h for h, _, _ in extra] + ['other load (cores)']
  lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  for r in rows:
    cells = [
      r['case'],
      r['impl'],
      f'{r["median_s"]:.3f}',
      f'{r["min_s"]:.3f}',
      str(r['rounds']),
      f'{r["per_s"]:.3g}',
      _fmt(r.get('gflops'), '.0f'),
    ]
    cells += [_fmt(r['speedup'].get(b), '.2f') for b in baselines]
    cells += [
      str(r.get(key)) if fmt == 'str' and r.get(key) is not None else _fmt(r.get(key), fmt) for _, key, fmt in extra
    ]
    cells.append(_fmt(r.get('other_load'), '.2f'))
    lines.append('| ' + ' | '.join(cells) + ' |')
  return lines


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--full', action='store_true', help='full grids instead of --quick (hours on CPU)')
  parser.add_argument('--no-flag-study', dest='flag_study', action='store_false')
  args = parser.parse_args()
  quick = [] if args.full else ['--quick']
  load_before = os.getloadavg()
  pipeline = run_text('input_pipeline.py', ['--seconds', '5'])
  generator = run('generator.py', quick)
  train = run('train_step.py', [])  # batch 16, gt 128, as the issue asks, also in the quick run
  tiled = run('tiled_upscale.py', quick)
  video = run('video.py', quick)
  seams = run_text('tile_seams.py', SEAMS_ARGS)
  cli = run_text('upscale_cli.py', [])
  threads = run_text('thread_profile.py', [])
  study = []
  if args.flag_study:
    for name, flags in FLAG_SETTINGS.items():
      rows = run('generator.py', ['--shapes', '64x1', '--rounds', '3', '--no-bf16', '--torch-compile', 'none'], flags)
      rows += run('train_step.py', ['--steps', 'psnr', '--batch', '2', '--rounds', '2'], flags)
      study += [
        {**r, 'impl': f'{r["impl"]}, {name}' if r['impl'].startswith('ours') else r['impl']}
        for r in rows
        if not r['case'].startswith('GEMM')
      ]
  load_after = os.getloadavg()

  lines = [
    '# Benchmark results',
    '',
    f'Written by `python benchmarks/run_all.py{" --full" if args.full else ""}`. '
    "Speed-up = the other implementation's median time / this one's (above 1: this one is faster). "
    '"Other load" = CPU cores that other processes kept busy during that measurement (this machine is '
    "shared); PyTorch's OpenMP threads suffer more from it than XLA's work-stealing pool, so rows with a "
    'load above ~0.2 flatter ours.',
    '',
    '## Machine',
    '',
  ] + machine()
  lines += [
    f'- Load average (1/5/15 min) before: {" / ".join(f"{x:.2f}" for x in load_before)}, after: '
    f'{" / ".join(f"{x:.2f}" for x in load_after)}',
    '',
    '## RRDBNet x4 inference (`generator.py`)',
    '',
    'LR input SIZE x SIZE, batch b; 23 blocks, 64 features. GFLOP/s from the counted conv MACs (35.85 MFLOP '
    'per LR pixel). Compile s: XLA tracing + compilation of the first call (torch.compile: first call minus '
    'a later one). Recompiles: compilations during the timed calls and a call with new values of the same '
    'shape (must be 0).',
    '',
  ]
  lines += table(
    generator, (('compile s', 'compile_s', '.1f'), ('recompiles', 'recompiles', 'd'), ('note', 'note', 'str'))
  )
  lines += [
    '',
    '## Train step (`train_step.py`)',
    '',
    "fp32; GFLOP/s from XLA's cost analysis of our step (the same work in both).",
    '',
  ]
  lines += table(train, (('compile s', 'compile_s', '.1f'), ('recompiles', 'recompiles', 'd')))
  lines += [
    '',
    '## Tiled upscale (`tiled_upscale.py`)',
    '',
    'Memory: one upscale per tiler in a fresh process. Deviation: from the untiled output, clipped to [0, 1].',
    '',
  ]
  lines += table(
    tiled,
    (
      ('px computed / px', 'px_computed_per_px', '.2f'),
      ('peak RSS MB', 'peak_rss_mb', '.0f'),
      ('RSS rise MB', 'rss_rise_mb', '.0f'),
      ('max abs dev', 'max_abs', '.2e'),
      ('mean dev near borders', 'mean_abs_near_borders', '.2e'),
      ('share >= 1/255', 'share_off_by_1_level', '.2%'),
    ),
  )
  lines += [
    '',
    '## Video (`video.py`)',
    '',
    "Frames/s from decoding to the closed H.264 file: the upscale CLI's video path vs Real-ESRGAN's video script "
    'in PyTorch (one frame per forward), Compact realesr-animevideov3 and RRDBNet x4, random weights.',
    '',
  ]
  lines += table(video)
  lines += [
    '',
    f'## Tile seams (`tile_seams.py {" ".join(SEAMS_ARGS)}`)',
    '',
    'Deviation from untiled output with weights whose receptive field behaves like a trained net (see the script).',
    '',
    seams[seams.index('| RDB init_scale') :].strip(),
    '',
    '## Upscale command (`upscale_cli.py`)',
    '',
    '```',
    cli.strip(),
    '```',
  ]
  lines += [
    '',
    '## Where ours loses on 2 cores (`thread_profile.py`)',
    '',
    "Single-core speed against multi-core scaling, and each layer's share of time spent on one core.",
    '',
    threads.strip(),
  ]
  lines += ['', '## Input pipeline (`input_pipeline.py --seconds 5`)', '', '```', pipeline.strip(), '```']
  if study:
    lines += [
      '',
      '## XLA flag study',
      '',
      'The same small cases under three XLA_FLAGS settings, each in its own process with PyTorch alongside. '
      'The Machine section says which esrgan_jax picks on this CPU for inference and for training.',
      '',
    ]
    lines += table(study)
  notes = (
    RESULTS.read_text().split(NOTES_MARKER, 1)[1] if RESULTS.is_file() and NOTES_MARKER in RESULTS.read_text() else '\n'
  )
  RESULTS.write_text('\n'.join(lines) + '\n\n' + NOTES_MARKER + notes)
  print(f'\nwrote {RESULTS}')


if __name__ == '__main__':
  main()
