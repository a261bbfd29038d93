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
import torch.nn.functional as F

from esrgan_jax.configs import default
from esrgan_jax.models.vgg import IMAGENET_MEAN, IMAGENET_STD
from esrgan_jax.training import steps
from esrgan_jax.weights import discriminator_state_dict, generator_state_dicts, perceptual

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


class TorchStep:
  """The same step in PyTorch eager, from ours' initial G (and D) weights."""

  def __init__(self, torch_archs, config, stage_name: str, state, batch: dict[str, np.ndarray]):
    self.stage, self.stage_name, self.ema_decay = config[stage_name], stage_name, config.ema_decay
    to_nchw = lambda x: torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    self.lr, self.hr = to_nchw(batch['lr']), to_nchw(batch['hr'])
    self.g = torch_archs.TorchRRDBNet(
      num_feat=config.model.num_feat, num_block=config.model.num_block, num_grow_ch=config.model.num_grow_ch
    )
    self.g.load_state_dict(
      self._tensors(generator_state_dicts.generator_to_torch(steps.create_generator(config), state.g_params))
    )
    self.g_ema = [p.detach().clone() for p in self.g.parameters()]
    lr_g = self.stage.lr if stage_name == 'psnr' else self.stage.lr_g
    self.opt_g = torch.optim.Adam(self.g.parameters(), lr_g, betas=(self.stage.b1, self.stage.b2))
    if stage_name == 'gan':
      d_module = steps.create_discriminator(config)
      self.d = torch_archs.TorchVGGStyleDiscriminator(
        num_feat=config.discriminator.num_feat, input_size=self.stage.gt_size
      )
      self.d.load_state_dict(
        self._tensors(
          discriminator_state_dict.discriminator_to_torch(d_module, {'params': state.d_params, **state.d_collections})
        )
      )
      self.opt_d = torch.optim.Adam(self.d.parameters(), self.stage.lr_d, betas=(self.stage.b1, self.stage.b2))
      (layer,) = self.stage.perceptual_layers  # e.g. conv5_4: torchvision index of the conv, before its ReLU
      self.layer_weight = self.stage.perceptual_layers[layer]
      last = int(perceptual.torchvision_vgg19_module(layer).split('.')[1])
      self.vgg = torch_archs.torch_vgg19_features()[: last + 1]
      self.vgg.requires_grad_(False)
      self.mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
      self.std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

  @staticmethod
  def _tensors(state_dict):
    return {k: torch.from_numpy(np.array(v)) for k, v in state_dict.items()}

  def _ema(self):
    with torch.no_grad():
      for ema, p in zip(self.g_ema, self.g.parameters()):
        ema.mul_(self.ema_decay).add_(p, alpha=1 - self.ema_decay)

  def __call__(self):
    if self.stage_name == 'psnr':
      self.opt_g.zero_grad(set_to_none=True)
      loss = self.stage.pixel_weight * F.l1_loss(self.g(self.lr), self.hr)
      loss.backward()
      self.opt_g.step()
      self._ema()
      return
    bce = F.binary_cross_entropy_with_logits
    features = lambda x: self.vgg((x - self.mean) / self.std)
    self.d.requires_grad_(False)
    self.opt_g.zero_grad(set_to_none=True)
    sr = self.g(self.lr)
    l_pix = self.stage.pixel_weight * F.l1_loss(sr, self.hr)
    with torch.no_grad():
      hr_features = features(self.hr)
    l_percep = self.stage.perceptual_weight * self.layer_weight * F.l1_loss(features(sr), hr_features)
    real, fake = self.d(self.hr).detach(), self.d(sr)
    l_gan = (
      self.stage.gan_weight
      * 0.5
      * (bce(real - fake.mean(), torch.zeros_like(real)) + bce(fake - real.mean(), torch.ones_like(fake)))
    )
    (l_pix + l_percep + l_gan).backward()
    self.opt_g.step()
    self.d.requires_grad_(True)
    self.opt_d.zero_grad(set_to_none=True)
    sr = sr.detach()
    fake = self.d(sr).detach()  # BasicSR's D step: three passes, each half of the loss backpropagated on its own
    real = self.d(self.hr)
    (0.5 * bce(real - fake.mean(), torch.ones_like(real))).backward()
    fake = self.d(sr)
    (0.5 * bce(fake - real.detach().mean(), torch.zeros_like(fake))).backward()
    self.opt_d.step()
    self._ema()


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
  torch_archs = timing.import_torch_reference()
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
      torch_step = TorchStep(torch_archs, config, stage_name, jax.device_get(state), batch)
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
