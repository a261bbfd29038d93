"""One ESRGAN train step, ours (jax.jit of esrgan_jax.training.steps) vs PyTorch eager doing the same work, fp32.

    python benchmarks/train_step.py [--quick] [--batch 16] [--gt_size 128] [--steps psnr gan] [--rounds 3] [--json FILE]

psnr: RRDBNet forward, L1, backward, Adam, EMA of G. gan: as `esrgan_jax.training.steps.gan_train_step` -- G step (L1 +
VGG19 conv5_4 perceptual + RaGAN, D frozen in train mode) and D step on the same SR output, Adam for both, EMA of G;
D runs five times per step in both, as in BasicSR (real and fake in the G step; fake, real, fake in the D step).
Ours is the step `main` runs (`step_builder.build_train_step`, on one device as the GPU check runs it). The
default config's x4 nets and loss weights; G and D start from the same weights in both frameworks, VGG19 weights are
random (timing only). The FLOP count per step is XLA's cost analysis of our compiled step; both rates use it.
--quick: batch 4.
"""

import argparse
import os

from esrgan_jax import runtime

runtime.use_fast_cpu_flags(training=True)

import accelerator  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import numpy as np
import timing
import torch

from esrgan_jax.configs import default

TORCH_EAGER = 'torch eager fp32'


def ours_step(config, stage_name: str, batch: dict[str, np.ndarray]):
  """(call, initial state, FLOPs per step): `call()` runs one step of ours, as `main` builds it
  (`accelerator.ours_train`: `step_builder.build_train_step`, random VGG19 weights), on `batch` and blocks; the first
  call donates the initial state."""
  step, state, device_batch = accelerator.ours_train(config, stage_name, batch)
  cost = step.lower(state, device_batch).cost_analysis()  # of the HLO before XLA's optimisations
  flops = (cost[0] if isinstance(cost, list) else cost)['flops']
  holder = {'state': state}

  def call():
    holder['state'], metrics = step(holder['state'], device_batch)
    jax.block_until_ready(metrics)

  return call, state, flops


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--quick', action='store_true', help='batch 4 unless --batch is given')
  parser.add_argument('--batch', type=int, default=None, help='default 16 (4 with --quick)')
  parser.add_argument('--gt_size', type=int, default=128)
  parser.add_argument('--steps', nargs='+', choices=('psnr', 'gan'), default=('psnr', 'gan'))
  parser.add_argument('--rounds', type=int, default=3)
  parser.add_argument('--json', default=None, help='write the result rows here')
  args = parser.parse_args()
  batch_size = args.batch or (4 if args.quick else 16)
  config = default.get_config()
  print(
    f'XLA_FLAGS={os.environ.get("XLA_FLAGS")!r}; {torch.get_num_threads()} torch threads; batch {batch_size}, '
    f'gt_size {args.gt_size}, x{config.scale}',
    flush=True,
  )
  rng = np.random.default_rng(0)
  hr = rng.random((batch_size, args.gt_size, args.gt_size, 3), np.float32)
  lr_size = args.gt_size // config.scale
  batch = {'lr': hr.reshape(batch_size, lr_size, config.scale, lr_size, config.scale, 3).mean((2, 4)), 'hr': hr}
  rows = []
  for stage_name in args.steps:
    config[stage_name].update(batch_size=batch_size, gt_size=args.gt_size)
    load = timing.OtherLoad()
    with load:
      ours, state, flops = ours_step(config, stage_name, batch)
      torch_step = accelerator.TorchTrainStep(  # NCHW fp32 eager, as BasicSR trains on a CPU
        config, stage_name, jax.device_get(state), batch, torch.device('cpu'), amp=None, memory=torch.contiguous_format
      )
      with timing.CompileCounter() as compiles:
        ours()
      torch_step()
      with timing.CompileCounter() as recompiles:
        times = timing.interleave({'ours jit fp32': ours, TORCH_EAGER: torch_step}, args.rounds, warmup=0)
    case = f'{stage_name} b{batch_size} gt{args.gt_size}'
    baselines = {TORCH_EAGER: times[TORCH_EAGER]}
    print(
      f'{case}: {flops / 1e9:.0f} GFLOP per step (XLA cost analysis); ours compiled in {compiles.seconds:.1f} s',
      flush=True,
    )
    stage_rows = [
      timing.row(
        'train_step',
        case,
        name,
        t,
        flops=flops,
        baselines=baselines,
        other_load=load.cores,
        compile_s=compiles.seconds if name.startswith('ours') else None,
        recompiles=recompiles.count if name.startswith('ours') else None,
      )
      for name, t in times.items()
    ]
    timing.print_rows(stage_rows)
    rows += stage_rows
  timing.write_rows(args.json, rows)


if __name__ == '__main__':
  main()
