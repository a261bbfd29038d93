"""The upscale command as users run it, in fresh processes: `--help` time, first vs second run (persistent
compilation cache), and peak RSS of a 1920x1080 input at x4.

    python benchmarks/upscale_cli.py [--size 128] [--num_block 23] [--big_num_block 1] [--max_memory 1] [--json FILE]

Each run is `python -m esrgan_jax.upscale` on a random-weight RRDBNet x4 given as a PyTorch `.pth` (converted in
memory); the process reports its own peak RSS (VmHWM) on exit. First run: empty cache folder; second run: the same
image size again (nothing left to compile); a run with --no-compile-cache for reference. The 1920x1080 case (output
7680x4320, 99.5 MB as 8-bit RGB) uses `--big_num_block` blocks by default 1, as 23 blocks cost ~75 TFLOP (10+ minutes
on 2 cores): the peak memory is the output and the x4 part of the net, which do not depend on the block count.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_CHILD = """
import runpy, sys
sys.argv = ['upscale'] + sys.argv[1:]
try:
  runpy.run_module('esrgan_jax.upscale', run_name='__main__')
except SystemExit as e:
  code = e.code
finally:
  hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')]
  print('PEAK_RSS_KB', hwm[0].split()[1] if hwm else -1, flush=True)
"""


def write_model(path: Path, num_block: int) -> None:
  """Random x4 RRDBNet weights (N(0, 0.02), biases 0.1) as a BasicSR-named .pth."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp

  from esrgan_jax.models.rrdbnet import RRDBNet
  from esrgan_jax.weights import generator_state_dicts, torch_io

  module = RRDBNet(num_block=num_block)
  shapes = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, 8, 8, 3)))['params']
  rng = np.random.default_rng(0)
  params = jax.tree.map(lambda s: rng.normal(0, 0.02, s.shape).astype(np.float32), shapes)
  torch_io.save_state_dict(path, {'params_ema': generator_state_dicts.generator_to_torch(module, params)})


def run(args: list[str], env: dict[str, str]) -> dict[str, float]:
  """Wall seconds and peak RSS of one upscale process (printed as it ends)."""
  start = time.perf_counter()
  proc = subprocess.run([sys.executable, '-c', _CHILD, *args], env=env, capture_output=True, text=True, check=False)
  seconds = time.perf_counter() - start
  if proc.returncode != 0 or 'PEAK_RSS_KB' not in proc.stdout:
    raise RuntimeError(f'upscale {" ".join(args)} failed:\n{proc.stdout}\n{proc.stderr}')
  peak_kb = int(proc.stdout.rsplit('PEAK_RSS_KB', 1)[1].split()[0])
  print(f'  upscale {" ".join(args[-2:])}: {seconds:.2f} s, peak RSS {peak_kb / 1024:.0f} MB', flush=True)
  return {'seconds': seconds, 'peak_rss_mb': peak_kb / 1024}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--size', type=int, default=128, help='side of the image of the first/second-run case')
  parser.add_argument('--num_block', type=int, default=23)
  parser.add_argument('--big_num_block', type=int, default=1, help='blocks of the 1920x1080 case')
  parser.add_argument('--max_memory', type=float, default=1.0, help='--max-memory (GiB) of the 1920x1080 case')
  parser.add_argument('--skip_big', action='store_true')
  parser.add_argument('--json', default=None)
  args = parser.parse_args()
  from PIL import Image  # pylint: disable=g-import-not-at-top

  rows = {}
  with tempfile.TemporaryDirectory() as tmp:
    folder = Path(tmp)
    env = {**os.environ, 'ESRGAN_JAX_COMPILE_CACHE': str(folder / 'cache')}
    env.pop('XLA_FLAGS', None)
    help_times = [run(['--help'], env)['seconds'] for _ in range(3)]
    rows['help'] = {'seconds': float(np.median(help_times))}
    rng = np.random.default_rng(0)
    write_model(folder / 'net.pth', args.num_block)
    for name in ('a', 'b'):
      Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3), np.uint8)).save(folder / f'{name}.png')
    common = ['-o', str(folder / 'out'), '--model', str(folder / 'net.pth')]
    rows['first run'] = run(['-i', str(folder / 'a.png'), *common], env)
    rows['second run'] = run(['-i', str(folder / 'b.png'), *common], env)
    rows['no cache'] = run(['-i', str(folder / 'b.png'), *common, '--no-compile-cache'], env)
    if not args.skip_big:
      write_model(folder / 'big.pth', args.big_num_block)
      Image.fromarray(rng.integers(0, 256, (1080, 1920, 3), np.uint8)).save(folder / 'hd.png')
      big = ['-i', str(folder / 'hd.png'), '-o', str(folder / 'out'), '--model', str(folder / 'big.pth')]
      rows['1920x1080 x4'] = run([*big, '--max-memory', str(args.max_memory)], env)
      rows['1920x1080 x4']['output_mb'] = 7680 * 4320 * 3 / 2**20
  print(f'upscale CLI: {args.size}x{args.size} image, {args.num_block} blocks; 1920x1080 with {args.big_num_block}')
  for name, row in rows.items():
    print(f'  {name}: ' + ', '.join(f'{k} {v:.2f}' for k, v in row.items()))
  if args.json:
    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == '__main__':
  main()
