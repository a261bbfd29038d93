"""Compile time of the ESRGAN train steps with the RRDB blocks unrolled vs one `nn.scan` (`config.scan_blocks`).

    python benchmarks/compile_time.py [--blocks 6 12 23] [--steps psnr gan] [--variants unrolled scan]
                                      [--batch 4] [--gt_size 128] [--rounds 2] [--json FILE]

Per number of blocks, train step and variant, in this process (fp32, `runtime.use_fast_cpu_flags`): the setup (the
jitted `init_state`, compiled unoptimised as `runtime.ONE_SHOT_COMPILER_OPTIONS` says, where the scan variants
initialise one scanned block; and the step's tracing and lowering for XLA's cost analysis), the compilation of the
step's first call (tracing, lowering and XLA, from JAX's monitoring events), and the median time of the later steps. The
steps are `train_step.ours_step`'s: the program that `esrgan_jax.training.train` runs. Variants: unrolled
(`body_0`..`body_{N-1}`), scan (`scan_blocks`), scan_remat (also `remat`).
"""

import argparse
import time

from esrgan_jax import runtime

runtime.use_fast_cpu_flags(training=True)

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np
import timing
import train_step

from esrgan_jax.configs import default

VARIANTS = {'unrolled': {}, 'scan': {'scan_blocks': True}, 'scan_remat': {'scan_blocks': True, 'remat': True}}


def measure(config, stage_name: str, batch: dict[str, np.ndarray], rounds: int) -> dict:
  """{'setup_s', 'compile_s', 'compiles', 'times'} of one train step config (see the module docstring)."""
  with timing.CompileCounter() as setup:
    call, _, _ = train_step.ours_step(config, stage_name, batch)
  with timing.CompileCounter() as first:
    call()
  times = []
  for _ in range(rounds):
    start = time.perf_counter()
    call()
    times.append(time.perf_counter() - start)
  return {'setup_s': setup.seconds, 'compile_s': first.seconds, 'compiles': first.count, 'times': times}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--blocks', type=int, nargs='+', default=[23], help='RRDB blocks of the generator')
  parser.add_argument('--steps', nargs='+', choices=('psnr', 'gan'), default=('psnr', 'gan'))
  parser.add_argument('--variants', nargs='+', choices=tuple(VARIANTS), default=('unrolled', 'scan'))
  parser.add_argument('--batch', type=int, default=4)
  parser.add_argument('--gt_size', type=int, default=128)
  parser.add_argument('--rounds', type=int, default=2, help='timed steps after the first')
  parser.add_argument('--json', default=None, help='write the result rows here')
  args = parser.parse_args()
  rng = np.random.default_rng(0)
  hr = rng.random((args.batch, args.gt_size, args.gt_size, 3), np.float32)
  scale = default.get_config().scale
  lr_size = args.gt_size // scale
  batch = {'lr': hr.reshape(args.batch, lr_size, scale, lr_size, scale, 3).mean((2, 4)), 'hr': hr}
  print(f'jax {jax.__version__} on {jax.devices()[0].device_kind}; batch {args.batch}, gt_size {args.gt_size}')
  rows = []
  for blocks in args.blocks:
    for stage_name in args.steps:
      for variant in args.variants:
        config = default.get_config()
        config.model.num_block = blocks
        config.update(VARIANTS[variant])
        config[stage_name].update(batch_size=args.batch, gt_size=args.gt_size)
        with timing.OtherLoad() as load:
          result = measure(config, stage_name, batch, args.rounds)
        row = timing.row(
          'compile_time',
          f'{stage_name} {blocks} blocks b{args.batch}',
          variant,
          result['times'],
          setup_s=result['setup_s'],
          compile_s=result['compile_s'],
          recompiles=result['compiles'] - 1,
          other_load=load.cores,
        )
        print(
          f'{row["case"]:>20} {variant:>10}: setup {row["setup_s"]:7.1f} s, first-step compile '
          f'{row["compile_s"]:7.1f} s, step {row["median_s"]:6.2f} s (other load {load.cores:.2f} cores)',
          flush=True,
        )
        rows.append(row)
  timing.write_rows(args.json, rows)


if __name__ == '__main__':
  main()
