"""Throughput of Real-ESRGAN's second-order degradation (`esrgan_jax.degradations.pipeline.synthesize_batch`):
GT patches -> LR inputs (plus the USM-sharpened targets) per second, jitted, on the default JAX device.

    python benchmarks/degradation_speed.py [--gt_size 256] [--batch 4] [--rounds 5] [--json OUT]

Each round degrades a new batch (new example indices, so new random kernels, resizes, noise and JPEG qualities);
compile time is reported separately. On a GPU/TPU this times the same jitted function on the accelerator.
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import timing

from esrgan_jax.degradations.pipeline import DegradationOptions, synthesize_batch


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--gt_size', type=int, default=256)
  parser.add_argument('--batch', type=int, default=4)
  parser.add_argument('--rounds', type=int, default=5)
  parser.add_argument('--json', default=None, help='write the result rows here')
  args = parser.parse_args()

  options = DegradationOptions()
  run = jax.jit(synthesize_batch, static_argnums=3)
  rng = np.random.default_rng(0)
  gt = jax.device_put(rng.random((args.batch, args.gt_size, args.gt_size, 3), np.float32))
  key = jax.random.key(0)
  round_index = iter(range(10**9))

  def degrade_next_batch():
    start = next(round_index) * args.batch
    jax.block_until_ready(run(key, jnp.arange(start, start + args.batch), gt, options))

  with timing.CompileCounter() as compiles:
    degrade_next_batch()
  with timing.OtherLoad() as load:
    times = timing.interleave({'jax': degrade_next_batch}, rounds=args.rounds, warmup=0)['jax']
  rows = [
    timing.row(
      'degradation',
      f'gt{args.gt_size} b{args.batch}',
      f'jax {jax.default_backend()}',
      times,
      work=args.batch,
      compile_s=compiles.seconds,
      recompiles=compiles.count - 1,
      other_load=load.cores,
      note='patches/s (per_s): GT patches degraded to LR per second',
    )
  ]
  timing.print_rows(rows)
  print(f'compile {compiles.seconds:.1f} s; other processes kept {load.cores:.1f} cores busy', flush=True)
  timing.write_rows(args.json, rows)


if __name__ == '__main__':
  main()
