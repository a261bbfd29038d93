"""RRDBNet x4 inference (23 blocks, 64 features): ours (jax.jit, fp32 and bf16) vs PyTorch (eager and torch.compile,
fp32) on the same weights, side by side in one process.

    python benchmarks/generator.py [--quick] [--shapes 64x1 128x8 ...] [--rounds 5] [--json FILE]

Shapes are LR SIZE x BATCH. Ours runs through `esrgan_jax.make_apply_fn` (what the upscale CLI runs), with
`esrgan_jax.runtime.use_fast_cpu_flags()` applied unless XLA_FLAGS is set and, as the CLI, one CPU device per core
(`use_cpu_device_per_core`): batches split over them, batch 1 runs on one. Each call is timed after a warm-up,
the implementations taking turns; reported: median seconds, images/s, GFLOP/s from the counted conv MACs, speed-up
over PyTorch eager (its median / ours), compile seconds apart, and the number of compilations during the timed calls
(a second call with the same shape must compile nothing). The full grid (64, 128, 256 x batch 1, 8) takes hours on
2 CPU cores; --quick runs 64x1, 64x8 and 128x1, torch.compile on the batch-1 shapes only. Both take 5 rounds:
medians of 3 calls moved too much between runs on a shared host.
"""

import argparse
import os
import time

from esrgan_jax import runtime

runtime.use_fast_cpu_flags()
runtime.use_cpu_device_per_core()

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp
import numpy as np
import timing
import torch
from flax import traverse_util

from esrgan_jax.inference.apply import make_apply_fn
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.weights.generator_state_dicts import generator_to_torch

FULL_SHAPES = ('64x1', '64x8', '128x1', '128x8', '256x1', '256x8')
QUICK_SHAPES = ('64x1', '64x8', '128x1')
# Output pixels per LR pixel of each x4 RRDBNet conv outside the trunk (the trunk runs at LR size).
_CONV_AREA = {'conv_up1': 4, 'conv_up2': 16, 'conv_hr': 16, 'conv_last': 16}
TORCH_EAGER, TORCH_COMPILE = 'torch eager fp32', 'torch.compile fp32'


def flops_per_lr_pixel(params) -> float:
  """2 x the conv MACs one LR pixel costs: each kernel [kh, kw, cin, cout] does kh*kw*cin*cout MACs per output pixel."""
  macs = sum(
    np.prod(kernel.shape) * _CONV_AREA.get(path[0], 1)
    for path, kernel in traverse_util.flatten_dict(params).items()
    if path[-1] == 'kernel'
  )
  return 2.0 * float(macs)


def gemm_gflops(rounds: int = 5, n: int = 2048) -> list[dict]:
  """fp32 n^3 matmul rate of both frameworks: what a conv-bound net can at best reach on this machine."""
  a = np.random.default_rng(0).random((n, n), np.float32)
  a_jax, a_torch = jnp.asarray(a), torch.from_numpy(a)
  matmul = jax.jit(jnp.dot)
  times = timing.interleave(
    {
      'jax jnp.dot fp32': lambda: matmul(a_jax, a_jax).block_until_ready(),
      'torch matmul fp32': lambda: torch.mm(a_torch, a_torch),
    },
    rounds,
  )
  return [timing.row('generator', f'GEMM {n}^3', name, t, flops=2.0 * n**3) for name, t in times.items()]


def benchmark_shape(size: int, batch: int, impls: dict, rounds: int, flops_per_pixel: float) -> list[dict]:
  """Times every impl (name -> make(x) -> call) on a [batch, size, size, 3] input after its warm-up call."""
  rng = np.random.default_rng(size + batch)
  x = rng.random((batch, size, size, 3), np.float32)
  calls, first_call, xla_compile, load = {}, {}, {}, timing.OtherLoad()
  with load:
    for name, make in impls.items():
      calls[name] = make(x)
      with timing.CompileCounter() as compiles:
        start = time.perf_counter()
        calls[name]()
        first_call[name] = time.perf_counter() - start
      xla_compile[name] = compiles.seconds
    with timing.CompileCounter() as recompiles:
      times = timing.interleave(calls, rounds, warmup=0)
      x_new = rng.random(x.shape, np.float32)  # same shape, new values: must not compile either
      for name, make in impls.items():
        if name.startswith('ours'):
          make(x_new)()
  baselines = {name: times[name] for name in (TORCH_EAGER, TORCH_COMPILE) if name in times}
  rows = []
  for name, t in times.items():
    compile_s = xla_compile[name] if name.startswith('ours') else None
    if name == TORCH_COMPILE:
      compile_s = first_call[name] - min(t)
    rows.append(
      timing.row(
        'generator',
        f'{size}x{size} b{batch}',
        name,
        t,
        work=batch,
        flops=flops_per_pixel * batch * size * size,
        baselines=baselines,
        compile_s=compile_s,
        recompiles=recompiles.count if name.startswith('ours') else None,
        other_load=load.cores,
      )
    )
  return rows


def ours_call(apply_fn):
  def make(x):
    x_device = jnp.asarray(x)
    return lambda: apply_fn(x_device).block_until_ready()

  return make


def torch_call(net):
  def make(x):
    x_torch = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())

    def call():
      with torch.inference_mode():
        return net(x_torch)

    return call

  return make


def deviation_notes(rows: list[dict], apply_fns: dict, torch_net, size: int) -> None:
  """Adds max |ours - torch| on one image to the ours rows (same weights: float32 resp. bfloat16 rounding)."""
  x = np.random.default_rng(1).random((1, size, size, 3), np.float32)
  with torch.inference_mode():
    reference = torch_net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
  for r in rows:
    if r['impl'] in apply_fns:
      deviation = float(np.abs(np.asarray(apply_fns[r['impl']](jnp.asarray(x))) - reference).max())
      r['note'] = f'max |ours - torch| {deviation:.1e}'


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--quick', action='store_true', help=f'shapes {" ".join(QUICK_SHAPES)} (default: all)')
  parser.add_argument('--shapes', nargs='+', default=None, help='LR SIZExBATCH, e.g. 64x1 128x8')
  parser.add_argument('--rounds', type=int, default=5, help='timed calls per implementation and shape')
  parser.add_argument('--no-bf16', dest='bf16', action='store_false', help='skip ours in bfloat16')
  parser.add_argument(
    '--torch-compile',
    choices=('first', 'batch1', 'all', 'none'),
    default=None,
    help='shapes to run torch.compile on (default: batch1 with --quick, else all)',
  )
  parser.add_argument(
    '--torch-compile-budget',
    type=float,
    default=600,
    help='stop compiling more shapes once one torch.compile took longer than this (s)',
  )
  parser.add_argument('--json', default=None, help='write the result rows here')
  args = parser.parse_args()
  shapes = args.shapes or (QUICK_SHAPES if args.quick else FULL_SHAPES)
  compile_shapes = args.torch_compile or ('batch1' if args.quick else 'all')
  torch_archs = timing.import_torch_reference()

  module = runtime.for_platform(RRDBNet())  # as the upscale CLI runs it
  params = jax.jit(module.init, compiler_options=runtime.ONE_SHOT_COMPILER_OPTIONS)(
    jax.random.key(0), jnp.zeros((1, 16, 16, 3))
  )['params']
  torch_net = torch_archs.TorchRRDBNet().eval()
  torch_net.load_state_dict({k: torch.from_numpy(v) for k, v in generator_to_torch(module, params).items()})
  compiled_net = torch.compile(torch_net, dynamic=False)
  ours_fp32 = make_apply_fn(module, params)
  ours_bf16 = make_apply_fn(module.clone(dtype=jnp.bfloat16), params)
  per_pixel = flops_per_lr_pixel(params)
  print(
    f'XLA_FLAGS={os.environ.get("XLA_FLAGS")!r}; {jax.local_device_count()} JAX devices; '
    f'{torch.get_num_threads()} torch threads; counted '
    f'{per_pixel / 1e6:.2f} MFLOP per LR pixel',
    flush=True,
  )

  rows = gemm_gflops()
  timing.print_rows(rows)
  compile_ok = compile_shapes != 'none'
  for i, shape in enumerate(shapes):
    size, batch = map(int, shape.split('x'))
    impls = {'ours jit fp32': ours_call(ours_fp32), TORCH_EAGER: torch_call(torch_net)}
    if args.bf16:
      impls['ours jit bf16'] = ours_call(ours_bf16)
    if compile_ok and {'first': i == 0, 'batch1': batch == 1}.get(compile_shapes, True):
      impls[TORCH_COMPILE] = torch_call(compiled_net)
    shape_rows = benchmark_shape(size, batch, impls, args.rounds, per_pixel)
    if i == 0:
      deviation_notes(shape_rows, {'ours jit fp32': ours_fp32, 'ours jit bf16': ours_bf16}, torch_net, size)
      cost = jax.jit(module.apply).lower({'params': params}, jnp.zeros((1, size, size, 3))).compile().cost_analysis()
      cost = cost[0] if isinstance(cost, list) else cost
      print(
        f'XLA cost analysis: {cost["flops"] / size**2 / 1e6:.2f} MFLOP per LR pixel (it counts only the conv '
        f'taps inside the image, so a little less than the {per_pixel / 1e6:.2f} counted)',
        flush=True,
      )
    compile_ok &= all(r['compile_s'] <= args.torch_compile_budget for r in shape_rows if r['impl'] == TORCH_COMPILE)
    timing.print_rows(shape_rows)
    rows += shape_rows
  timing.write_rows(args.json, rows)


if __name__ == '__main__':
  main()
