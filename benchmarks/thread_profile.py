"""Where RRDBNet inference loses to PyTorch on a small CPU: single-core speed vs multi-core scaling, per layer.

    python benchmarks/thread_profile.py [--size 64] [--batch 1] [--num_block 23] [--rounds 3]

1. Scaling: ours (jit fp32) and PyTorch eager fp32 on the same weights, each on all cores and pinned to one core
   (a fresh process per setting, pinned before either library starts its threads).
2. Per-layer profile of ours on all cores (jax.profiler): for each layer kind (`rdb*/conv3`, `conv_up2`, concat, ...),
   the time per call and the share of its calls during which no other thread of XLA's pool did any work, i.e. the
   YNNPACK/XLA op ran on one core. Thread activity is read from the `ThreadpoolListener` events of XLA's trace.
Prints markdown; `run_all.py` copies it into RESULTS.md.
"""

import argparse
import bisect
import collections
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from esrgan_jax import runtime

runtime.use_fast_cpu_flags()

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp
import numpy as np
import timing
import torch

from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.weights import generator_state_dicts

_WORKER_EVENTS = ('ThreadpoolListener::StartRegion', 'ThreadpoolListener::Record')


def _layer_kind(op_name: str, hlo_name: str) -> str:
  """'jit(f)/RRDBNet/body_3/rdb2/conv3/add' -> 'body_*/rdb*/conv3'; ops without a conv keep their HLO kind."""
  path = re.sub(r'rdb\d', 'rdb*', re.sub(r'body_\d+', 'body_*', op_name)).split('/')
  convs = [i for i, part in enumerate(path) if part.startswith('conv')]
  if convs and hlo_name.startswith(('ynn_fusion', 'fusion', 'convolution')):
    start = next((i for i, part in enumerate(path) if part == 'RRDBNet'), -1) + 1
    return '/'.join(path[start : convs[0] + 1])
  return re.sub(r'\.\d+$', '', hlo_name)


def _op_kinds(hlo_text: str) -> dict[str, str]:
  """HLO instruction name -> layer kind: the convolutions a fusion computes ('+'-joined), else its own op name."""
  conv_kinds = collections.defaultdict(list)  # fused computation -> kinds of its convolutions
  computation = None
  for line in hlo_text.splitlines():
    header = re.match(r'^%([\w.\-]+) \(', line)
    computation = header[1] if header else computation
    conv = re.search(r' convolution\(.*?op_name="([^"]*)"', line)
    if conv and computation:
      conv_kinds[computation].append(_layer_kind(conv[1], 'convolution'))
  kinds = {}
  for match in re.finditer(
    r'^\s*(?:ROOT )?%([\w.\-]+) = .*?(?:calls=%([\w.\-]+).*?)?metadata=\{op_name="([^"]*)"', hlo_text, re.M
  ):
    kinds[match[1]] = '+'.join(conv_kinds[match[2]]) if conv_kinds.get(match[2]) else _layer_kind(match[3], match[1])
  return kinds


def _threads_active(trace_dir: str) -> tuple[list[dict], dict[int, list[int]]]:
  path = next(Path(trace_dir).rglob('*perfetto_trace.json.gz'))
  events = json.load(gzip.open(path))
  events = [e for e in (events['traceEvents'] if isinstance(events, dict) else events) if e.get('ph') == 'X']
  workers = collections.defaultdict(list)
  for e in events:
    if e['name'].startswith(_WORKER_EVENTS):
      workers[e['tid']].append(e['ts'])
  for stamps in workers.values():
    stamps.sort()
  return events, workers


def profile(size: int, batch: int, num_block: int, calls: int = 5) -> list[str]:
  """Markdown table of ours per layer kind: ms per image, share of the op time, share run on one core."""

  module = runtime.for_platform(RRDBNet(num_block=num_block))
  x = jnp.asarray(np.random.default_rng(0).random((batch, size, size, 3), np.float32))
  params = module.init(jax.random.key(0), x[:1, :8, :8])['params']
  compiled = jax.jit(lambda p, x: module.apply({'params': p}, x)).lower(params, x).compile()
  kinds = _op_kinds(compiled.as_text())
  for _ in range(2):
    compiled(params, x).block_until_ready()
  with tempfile.TemporaryDirectory() as trace_dir:
    with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
      for _ in range(calls):
        compiled(params, x).block_until_ready()
    events, workers = _threads_active(trace_dir)
  if not workers:
    return ["(this jaxlib's trace has no thread-pool events, so one-core ops cannot be told apart)"]
  per_kind = collections.defaultdict(lambda: [0.0, 0, 0.0])  # total us, calls, us with no other thread active
  for e in events:
    if e['name'] not in kinds:
      continue
    start, end = e['ts'], e['ts'] + e['dur']
    helped = any(
      t != e['tid'] and bisect.bisect_left(stamps, end) > bisect.bisect_left(stamps, start)
      for t, stamps in workers.items()
    )
    entry = per_kind[kinds[e['name']]]
    entry[0] += e['dur']
    entry[1] += 1
    entry[2] += 0 if helped else e['dur']
  total = sum(v[0] for v in per_kind.values())
  alone = sum(v[2] for v in per_kind.values())
  lines = [
    f'Ours, {size}x{size} b{batch}, {num_block} blocks, all cores: '
    f'{total / calls / 1e3:.0f} ms of ops per call, '
    f'{alone / total:.0%} of it in ops during which no other pool thread worked.',
    '',
    '| layer | calls per image | ms per image | share of op time | share on one core |',
    '|---|---|---|---|---|',
  ]
  for kind, (us, n, us_alone) in sorted(per_kind.items(), key=lambda kv: -kv[1][0])[:16]:
    lines.append(
      f'| {kind} | {n / calls / batch:.0f} | {us / calls / batch / 1e3:.1f} | {us / total:.1%} | {us_alone / us:.0%} |'
    )
  return lines


def _time_one_setting(impl: str, size: int, batch: int, num_block: int, rounds: int) -> list[float]:
  """Seconds per call of `impl` in this process (already pinned or not by the caller)."""
  torch_archs = timing.import_torch_reference()
  torch_net = torch_archs.TorchRRDBNet(num_block=num_block).eval()
  x = np.random.default_rng(0).random((batch, size, size, 3), np.float32)
  if impl == 'torch':
    x_torch = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())

    def call():
      with torch.no_grad():
        torch_net(x_torch)
  else:
    module, params = generator_state_dicts.generator_from_torch(
      {k: v.numpy() for k, v in torch_net.state_dict().items()}
    )
    forward = jax.jit(lambda p, x: module.apply({'params': p}, x))
    x_jax = jax.device_put(x)
    call = lambda: forward(params, x_jax).block_until_ready()
  return timing.interleave({impl: call}, rounds)[impl]


def scaling(size: int, batch: int, num_block: int, rounds: int) -> list[str]:
  """Markdown table: median seconds of ours and PyTorch on one core and on all cores, and the scaling."""
  cores = len(os.sched_getaffinity(0))
  medians = {}
  for impl in ('ours', 'torch'):
    for pinned in (True, False):
      prefix = ['taskset', '-c', str(min(os.sched_getaffinity(0)))] if pinned else []
      out = subprocess.run(
        [
          *prefix,
          sys.executable,
          __file__,
          '--time-one',
          impl,
          '--size',
          str(size),
          '--batch',
          str(batch),
          '--num_block',
          str(num_block),
          '--rounds',
          str(rounds),
        ],
        check=True,
        capture_output=True,
        text=True,
      ).stdout
      medians[impl, pinned] = statistics.median(json.loads(out.strip().splitlines()[-1]))
  lines = [
    f'| {size}x{size} b{batch}, {num_block} blocks | 1 core s | {cores} cores s | scaling |',
    '|---|---|---|---|',
  ]
  for impl, name in (('ours', 'ours jit fp32'), ('torch', 'torch eager fp32')):
    one, all_cores = medians[impl, True], medians[impl, False]
    lines.append(f'| {name} | {one:.3f} | {all_cores:.3f} | {one / all_cores:.2f}x |')
  ratio = lambda pinned: medians['torch', pinned] / medians['ours', pinned]
  lines += ['', f'Speed-up of ours over PyTorch: {ratio(True):.2f} on one core, {ratio(False):.2f} on {cores} cores.']
  return lines


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--size', type=int, default=64)
  parser.add_argument('--batch', type=int, default=1)
  parser.add_argument('--num_block', type=int, default=23)
  parser.add_argument('--rounds', type=int, default=3)
  parser.add_argument('--time-one', choices=('ours', 'torch'), default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.time_one:
    print(json.dumps(_time_one_setting(args.time_one, args.size, args.batch, args.num_block, args.rounds)))
    return
  print(
    '\n'.join(
      scaling(args.size, args.batch, args.num_block, args.rounds)
      + ['']
      + profile(args.size, args.batch, args.num_block)
    )
  )


if __name__ == '__main__':
  main()
