"""One prepared GPU check: ours vs PyTorch on one accelerator, in one command that stays under 8 minutes.

    PYTHONPATH=.:.whl/site python benchmarks/accelerator.py OUT_DIR [--budget 400] [--tiny]

Writes OUT_DIR/RESULTS_gpu.md and OUT_DIR/results_gpu.json, rewritten after every row (a crash late keeps the rows
before it). Sections, in order of priority (each starts only with enough of `--budget` left; a watchdog ends the run
`--budget` + 40 s after start with exit code 3, the rows so far written):

1. train bf16: the PSNR step and the GAN step that `main` runs for the shipped configs `esrgan_jax.configs.psnr` and
   `esrgan_jax.configs.gan` (BasicSR's recipe: L1; L1 1e-2 + VGG19 conv5_4 1.0 + RaGAN 5e-3, Adam, EMA 0.999, batch
   16, gt 128), built by `esrgan_jax.training.step_builder` with `half_precision` set, vs PyTorch with AMP (autocast
   bf16, channels_last, cudnn.benchmark). Our 50 timed steps on one fixed synthetic batch are also the correctness
   smoke: no loss may be non-finite and the content loss (L1, + perceptual for GAN) must fall.
2. inference: RRDBNet x4 at LR 128 and 256 px, batch 1 and 8: ours jit fp32 / bf16 vs torch fp32, AMP fp16 and AMP
   bf16 (channels_last, cudnn.benchmark). Ours bf16 must stay within BF16_PSNR_DB of ours fp32.
3. tiled: a 1920x1080 frame x4 through our tiled upscale (bf16), vs torch AMP bf16 on the whole frame.
4. degradation: Real-ESRGAN's second-order degradation as the realesrgan train step runs it (GT 256, batch 16),
   GT patches degraded per second (ours only: no torch equivalent on the device).
5. video: a clip through the upscale CLI's video path (`esrgan_jax.video`, frames batched on the device, uint8 in
   and out) with the Compact `realesr-animevideov3` net in bf16, vs Real-ESRGAN's video script in PyTorch (one frame
   per forward in float16, quantised on the CPU); both decode and encode H.264 with PyAV (preset veryfast, so the
   CPU encoder limits neither less than the other). Needs PyAV (`av`); skipped with a note without it.
6. train fp32: the same steps in float32 (ours and torch).
7. torch.compile: torch AMP bf16 inference through `torch.compile` per shape (slow to compile: last).

FLOPs per call come from XLA's cost analysis of our lowered function (the same count for the torch rows); the rate
is compared with BF16_PEAK_TFLOPS. Peak device memory: PyTorch's per row (reset before it), JAX's peak so far
(JAX cannot reset it). All weights are random (no network on the GPU machine): the smoke checks that training runs
and learns, not image quality. Needs ml_collections (the configs; a pure-Python wheel, see benchmarks/README.md) but
no TensorFlow, tensorflow_datasets, clu or psutil. `--tiny` runs every path with tiny nets and sizes on CPU in
seconds (torch.compile skipped there), set as config fields (TINY_FIELDS).
"""

import argparse
import importlib
import importlib.util
import json
import os
import platform
import statistics
import sys
import threading
import time
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any

START = time.monotonic()
REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / 'reference'), str(REPO / 'benchmarks')]
os.environ.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')  # share the GPU with torch; peak memory tells use

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp
import numpy as np
import timing
import torch
import torch.nn.functional as F
import torch_archs

from esrgan_jax import runtime
from esrgan_jax.degradations.pipeline import DegradationOptions, synthesize_batch
from esrgan_jax.inference.apply import make_apply_fn
from esrgan_jax.inference.tiling import upscale_image
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.models.vgg import IMAGENET_MEAN, IMAGENET_STD
from esrgan_jax.training import step_builder, steps
from esrgan_jax.weights import discriminator_state_dict, generator_state_dicts, perceptual

BF16_PEAK_TFLOPS = 790.0  # H200 dense bf16, as measured with PyTorch on the lent H200
# Ours bf16 vs ours fp32 inference: at least this PSNR, peak = the fp32 output's value range (random weights give
# outputs far from [0, 1], so neither clipping nor a peak of 1 would test anything).
BF16_PSNR_DB = 30.0
# The shipped config whose stage each train section runs, as `python -m esrgan_jax.main --config NAME` would.
TRAIN_CONFIGS = {'psnr': 'esrgan_jax.configs.psnr', 'gan': 'esrgan_jax.configs.gan'}
# --tiny's changes to those configs, as --config.FIELD=VALUE would make them: tiny nets and patches (the VGG-style
# discriminator takes GT 128 or 256), a shallow VGG19 layer (seconds on CPU) and 10x the learning rates, so that ten
# steps of a tiny net show the loss falling.
TINY_FIELDS = {
  'model.num_feat': 8,
  'model.num_block': 1,
  'model.num_grow_ch': 4,
  'discriminator.num_feat': 4,
  'psnr.batch_size': 2,
  'psnr.gt_size': 32,
  'psnr.lr': 2e-3,
  'gan.batch_size': 2,
  'gan.lr_g': 1e-3,
  'gan.lr_d': 1e-3,
  'gan.perceptual_layers': {'conv1_2': 1.0},
}
FULL = SimpleNamespace(
  config_fields={},  # the shipped configs as they are
  train_steps=50,
  torch_steps=20,
  shapes=((128, 1), (128, 8), (256, 1), (256, 8)),
  rounds=10,
  frame=(1080, 1920),
  tile=512,
  degrade=(256, 16),  # (GT size, batch) of the degradation section
  video=dict(frames=96, height=270, width=480, compact=dict(num_feat=64, num_conv=16)),  # 1080p out
)
TINY = SimpleNamespace(
  config_fields=TINY_FIELDS,
  train_steps=10,
  torch_steps=2,
  shapes=((8, 1), (16, 2)),
  rounds=2,
  frame=(36, 64),
  tile=16,
  degrade=(32, 2),
  video=dict(frames=6, height=16, width=24, compact=dict(num_feat=8, num_conv=2)),
)
COLUMNS = ('case', 'impl', 'median_ms', 'per_s', 'tflops', 'pct_bf16_peak', 'speedup', 'compile_s', 'peak_mem_gib')


class Results:
  """Rows and notes, written to OUT_DIR as RESULTS_gpu.md and results_gpu.json after every change."""

  def __init__(self, out_dir: Path, meta: dict):
    self.out_dir, self.meta, self.rows, self.notes = out_dir, meta, [], []
    self.lock = threading.Lock()
    out_dir.mkdir(parents=True, exist_ok=True)
    self.write()

  def add(self, section: str, **row) -> None:
    with self.lock:
      self.rows.append({'section': section, **row})
    self.write()

  def note(self, text: str) -> None:
    with self.lock:
      self.notes.append(text)
    print(text, flush=True)
    self.write()

  def write(self) -> None:
    with self.lock:
      meta = {**self.meta, 'elapsed_s': round(time.monotonic() - START, 1)}
      payload = json.dumps({'meta': meta, 'notes': self.notes, 'rows': self.rows}, indent=1, default=str)
      markdown = _markdown(meta, self.notes, self.rows)
    for name, text in (('results_gpu.json', payload), ('RESULTS_gpu.md', markdown)):
      tmp = self.out_dir / f'.{name}.tmp'
      tmp.write_text(text)
      tmp.replace(self.out_dir / name)


def _cell(value) -> str:
  if value is None:
    return ''
  if isinstance(value, float):
    return f'{value:.3g}' if abs(value) < 1000 else f'{value:.0f}'
  if isinstance(value, dict):
    return ', '.join(f'x{v:.2f} vs {k}' for k, v in value.items())
  return str(value)


def _markdown(meta: dict, notes: list[str], rows: list[dict]) -> str:
  lines = ['# esrgan_jax on an accelerator (benchmarks/accelerator.py)', '']
  lines += [f'- {k}: {v}' for k, v in meta.items()]
  lines += [
    '',
    f'Speed-up = the other median time / ours (above 1: ours faster). % peak: of {BF16_PEAK_TFLOPS:.0f} '
    "TFLOP/s bf16 dense. Rates use XLA's FLOP count of our function for both frameworks.",
    '',
  ]
  for section in dict.fromkeys(r['section'] for r in rows):
    lines += [f'## {section}', '', '| ' + ' | '.join(COLUMNS + ('note',)) + ' |', '|' + '---|' * (len(COLUMNS) + 1)]
    for r in rows:
      if r['section'] == section:
        lines.append('| ' + ' | '.join(_cell(r.get(c)) for c in COLUMNS + ('note',)) + ' |')
    lines.append('')
  if notes:
    lines += ['## Notes', ''] + [f'- {n}' for n in notes] + ['']
  return '\n'.join(lines)


class Budget:
  """Seconds left of the run's budget; a watchdog ends the process `grace` seconds after the budget is spent."""

  def __init__(self, seconds: float, results: Results, grace: float = 40.0):
    self.end, self.current = START + seconds, 'setup'
    self._timer = threading.Timer(max(0.0, self.end + grace - time.monotonic()), self._stop, args=(results,))
    self._timer.daemon = True
    self._timer.start()

  def left(self) -> float:
    return self.end - time.monotonic()

  def _stop(self, results: Results) -> None:
    results.note(f'Watchdog: out of time during "{self.current}"; rows after it are missing.')
    os._exit(3)  # pylint: disable=protected-access


def sync() -> None:
  if torch.cuda.is_available():
    torch.cuda.synchronize()


def torch_peak_gib(reset: bool = False) -> float | None:
  if not torch.cuda.is_available():
    return None
  if reset:
    torch.cuda.reset_peak_memory_stats()
    return None
  return torch.cuda.max_memory_allocated() / 2**30


def jax_peak_gib() -> float | None:
  stats = jax.local_devices()[0].memory_stats()
  return stats['peak_bytes_in_use'] / 2**30 if stats and 'peak_bytes_in_use' in stats else None


def flop_rate(flops: float, seconds: float) -> dict:
  tflops = flops / seconds / 1e12
  return {'tflops': tflops, 'pct_bf16_peak': 100 * tflops / BF16_PEAK_TFLOPS}


def median_seconds(call, rounds: int) -> float:
  return statistics.median(timing.interleave({'call': call}, rounds, warmup=1)['call'])


# ---------------------------------------------------------------------------------------------------------- training


def train_config(stage_name: str, precision: str, size: SimpleNamespace) -> Any:
  """The shipped config of `stage_name` (TRAIN_CONFIGS) with `size.config_fields` set and bfloat16 compute for
  precision 'bf16' (`half_precision`)."""
  config = importlib.import_module(TRAIN_CONFIGS[stage_name]).get_config()
  config.update_from_flattened_dict({'half_precision': precision == 'bf16', **size.config_fields})
  return config


def net_fields(config: Any) -> dict[str, int]:
  """The RRDBNet size of `config` (num_feat, num_block, num_grow_ch), as our inference rows and torch's nets take it."""
  return {name: config.model[name] for name in ('num_feat', 'num_block', 'num_grow_ch')}


def synthetic_batch(batch: int, gt_size: int, scale: int = 4) -> dict[str, np.ndarray]:
  """Smooth random HR patches [B, gt, gt, 3] in [0, 1] and their box-downscaled LR."""
  rng = np.random.default_rng(0)
  coarse = rng.random((batch, gt_size // 8, gt_size // 8, 3), np.float32)
  hr = np.clip(coarse.repeat(8, 1).repeat(8, 2) + 0.05 * rng.standard_normal((batch, gt_size, gt_size, 3)), 0, 1)
  hr = hr.astype(np.float32)
  lr_size = gt_size // scale
  return {'lr': hr.reshape(batch, lr_size, scale, lr_size, scale, 3).mean((2, 4)), 'hr': hr}


def ours_train(config: Any, stage_name: str, batch: dict[str, np.ndarray]) -> tuple:
  """(step, its fresh state, `batch` on the device): `step_builder.build_train_step` of `config`, the step `main`
  trains with, on one device; the GAN stage's perceptual network has random weights (no weight files here)."""
  extra_args = ()
  if stage_name == 'gan':  # ({},) without a perceptual loss, as `step_builder.perceptual_params` gives main
    gt = config.gan.gt_size
    init = jax.jit(steps.create_perceptual_network(config).init)
    extra_args = (init(jax.random.key(2), jnp.zeros((1, gt, gt, 3)))['params'] if config.gan.perceptual_weight else {},)
  step = step_builder.build_train_step(config, stage_name, steps.create_mesh(jax.devices()[:1]), extra_args)
  return step, step.init(), step.place(batch)


class TorchTrainStep:
  """The same step of `config` in PyTorch from ours' initial weights (at the base learning rate: over tens of steps
  the config's schedule stays there); `amp` = autocast dtype or None; `memory` the tensors' and nets' layout."""

  def __init__(self, config, stage_name, state, batch, device, amp, memory=torch.channels_last):
    stage = config[stage_name]
    self.stage_name, self.stage, self.device, self.amp = stage_name, stage, device, amp
    self.ema_decay = config.ema_decay
    to_torch = lambda x: torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(
      device, memory_format=memory
    )
    self.lr, self.hr = to_torch(batch['lr']), to_torch(batch['hr'])
    tensors = lambda sd: {k: torch.from_numpy(np.array(v)) for k, v in sd.items()}
    self.g = torch_archs.TorchRRDBNet(**net_fields(config))
    self.g.load_state_dict(
      tensors(generator_state_dicts.generator_to_torch(steps.create_generator(config), state.g_params))
    )
    self.g.to(device, memory_format=memory)
    self.g_ema = [p.detach().clone() for p in self.g.parameters()]
    betas = (stage.b1, stage.b2)
    self.opt_g = torch.optim.Adam(self.g.parameters(), stage.lr if stage_name == 'psnr' else stage.lr_g, betas=betas)
    if stage_name == 'gan':
      self.d = torch_archs.TorchVGGStyleDiscriminator(num_feat=config.discriminator.num_feat, input_size=stage.gt_size)
      d_vars = {'params': state.d_params, **state.d_collections}
      d_module = steps.create_discriminator(config)
      self.d.load_state_dict(tensors(discriminator_state_dict.discriminator_to_torch(d_module, d_vars)))
      self.d.to(device, memory_format=memory)
      self.opt_d = torch.optim.Adam(self.d.parameters(), stage.lr_d, betas=betas)
      ((layer, self.layer_weight),) = stage.perceptual_layers.items()
      last = int(perceptual.torchvision_vgg19_module(layer).split('.')[1])
      self.vgg = torch_archs.torch_vgg19_features()[: last + 1].requires_grad_(False).to(device, memory_format=memory)
      self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
      self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)

  def _autocast(self):
    return torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None)

  def __call__(self):
    stage, bce = self.stage, F.binary_cross_entropy_with_logits
    if self.stage_name == 'psnr':
      self.opt_g.zero_grad(set_to_none=True)
      with self._autocast():
        loss = stage.pixel_weight * F.l1_loss(self.g(self.lr).float(), self.hr)
      loss.backward()
      self.opt_g.step()
    else:
      features = lambda x: self.vgg((x - self.mean) / self.std).float()
      self.d.requires_grad_(False)
      self.opt_g.zero_grad(set_to_none=True)
      with self._autocast():
        sr = self.g(self.lr).float()
        l_pix = stage.pixel_weight * F.l1_loss(sr, self.hr)
        with torch.no_grad():
          hr_features = features(self.hr)
        l_percep = stage.perceptual_weight * self.layer_weight * F.l1_loss(features(sr), hr_features)
        real, fake = self.d(self.hr).float().detach(), self.d(sr).float()
        l_gan = (
          stage.gan_weight
          * 0.5
          * (bce(real - fake.mean(), torch.zeros_like(real)) + bce(fake - real.mean(), torch.ones_like(fake)))
        )
      (l_pix + l_percep + l_gan).backward()
      self.opt_g.step()
      self.d.requires_grad_(True)
      self.opt_d.zero_grad(set_to_none=True)
      sr = sr.detach()
      with self._autocast():  # BasicSR's D step: three passes, each half of the loss backpropagated on its own
        fake = self.d(sr).float().detach()
        real = self.d(self.hr).float()
        l_d_real = 0.5 * bce(real - fake.mean(), torch.ones_like(real))
      l_d_real.backward()
      with self._autocast():
        fake = self.d(sr).float()
        l_d_fake = 0.5 * bce(fake - real.detach().mean(), torch.zeros_like(fake))
      l_d_fake.backward()
      self.opt_d.step()
    with torch.no_grad():
      for ema, p in zip(self.g_ema, self.g.parameters()):
        ema.mul_(self.ema_decay).add_(p, alpha=1 - self.ema_decay)


def smoke_check(stage_name: str, history: list[dict]) -> str:
  """'ok: ...' if every loss is finite and the content loss fell from the first to the last tenth of the steps."""
  bad = [(i + 1, k) for i, m in enumerate(history) for k, v in m.items() if not np.isfinite(v)]
  if bad:
    return f'FAIL: non-finite {bad[0][1]} at step {bad[0][0]}'
  content = [m['l_pix'] if stage_name == 'psnr' else m['l_g_pix'] + m['l_g_percep'] for m in history]
  window = max(1, len(content) // 10)
  first, last = float(np.mean(content[:window])), float(np.mean(content[-window:]))
  name = 'l_pix' if stage_name == 'psnr' else 'l_g_pix+l_g_percep'
  return f'{"ok" if last < first else "FAIL"}: {name} {first:.4g} -> {last:.4g} over {len(content)} steps'


def train_section(results, size, device, stage_name: str, precision: str) -> None:
  section = f'train {precision}'
  amp = torch.bfloat16 if precision == 'bf16' else None
  config = train_config(stage_name, precision, size)
  stage = config[stage_name]
  batch = synthetic_batch(stage.batch_size, stage.gt_size, config.scale)
  case = f'{stage_name} b{stage.batch_size} gt{stage.gt_size}'
  step, state, device_batch = ours_train(config, stage_name, batch)
  extra = step.extra_args
  host_state = jax.device_get(state)
  lowered = step.lower(state, device_batch)
  cost = lowered.cost_analysis()
  flops = (cost[0] if isinstance(cost, list) else cost)['flops']
  start = time.perf_counter()
  compiled = lowered.compile()
  compile_s = time.perf_counter() - start
  history = []
  for _ in range(2):  # warm-up steps (first-call allocations); their losses count for the smoke check
    state, metrics = compiled(state, device_batch, *extra)
    history.append(metrics)
  jax.block_until_ready(state)
  start = time.perf_counter()
  for _ in range(size.train_steps):
    state, metrics = compiled(state, device_batch, *extra)  # metrics stay on device: no host sync per step
    history.append(metrics)
  jax.block_until_ready(state)
  ours_s = (time.perf_counter() - start) / size.train_steps
  history = [{k: float(v) for k, v in m.items()} for m in jax.device_get(history)]
  smoke = smoke_check(stage_name, history)
  ours_name = f'ours jit {precision}'
  torch_name = 'torch AMP bf16' if amp else 'torch fp32'
  torch_s, torch_mem, torch_note = None, None, ''
  try:
    torch_step = TorchTrainStep(config, stage_name, host_state, batch, device, amp)
    for _ in range(2):
      torch_step()
    sync()
    torch_peak_gib(reset=True)
    start = time.perf_counter()
    for _ in range(size.torch_steps):
      torch_step()
    sync()
    torch_s = (time.perf_counter() - start) / size.torch_steps
    torch_mem = torch_peak_gib()
  except Exception as e:  # pylint: disable=broad-except
    torch_note = f'torch failed: {type(e).__name__}: {e}'[:300]
  speedup = {torch_name: torch_s / ours_s} if torch_s else {}
  results.add(
    section,
    case=case,
    impl=ours_name,
    median_ms=1e3 * ours_s,
    per_s=1 / ours_s,
    speedup=speedup,
    compile_s=compile_s,
    peak_mem_gib=jax_peak_gib(),
    note=f'smoke {smoke}; {flops / 1e9:.0f} GFLOP/step',
    smoke_ok=smoke.startswith('ok'),
    **flop_rate(flops, ours_s),
  )
  if torch_s:
    results.add(
      section,
      case=case,
      impl=torch_name,
      median_ms=1e3 * torch_s,
      per_s=1 / torch_s,
      peak_mem_gib=torch_mem,
      **flop_rate(flops, torch_s),
    )
  elif torch_note:
    results.add(section, case=case, impl=torch_name, note=torch_note)


# --------------------------------------------------------------------------------------------------------- inference


def make_torch_infer(net, x: np.ndarray, device, amp, memory=torch.channels_last):
  x_torch = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(device, memory_format=memory)

  def call():
    with torch.inference_mode(), torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
      out = net(x_torch)
    sync()
    return out

  return call


def inference_nets(size, device):
  """(ours module, params, torch net in channels_last) with the same random weights."""
  fields = net_fields(train_config('psnr', 'fp32', size))
  module = runtime.for_platform(RRDBNet(**fields))
  params = jax.device_get(jax.jit(module.init)(jax.random.key(0), jnp.zeros((1, 16, 16, 3)))['params'])
  net = torch_archs.TorchRRDBNet(**fields).eval()
  net.load_state_dict(
    {k: torch.from_numpy(np.array(v)) for k, v in generator_state_dicts.generator_to_torch(module, params).items()}
  )
  return module, params, net.to(device, memory_format=torch.channels_last)


def inference_shape(results, size, device, nets, lr_size: int, batch: int, compiled_net=None) -> None:
  module, params, net = nets
  x = np.random.default_rng(lr_size + batch).random((batch, lr_size, lr_size, 3), np.float32)
  case = f'LR {lr_size}x{lr_size} b{batch}'
  cost = jax.jit(module.apply).lower({'params': params}, jnp.asarray(x)).cost_analysis()
  flops = (cost[0] if isinstance(cost, list) else cost)['flops']
  if compiled_net is not None:
    impls = {'torch.compile AMP bf16': make_torch_infer(compiled_net, x, device, torch.bfloat16)}
  else:
    impls = {}
    x_device = jnp.asarray(x)
    for precision, dtype in (('fp32', None), ('bf16', jnp.bfloat16)):
      apply_fn = make_apply_fn(module.clone(dtype=dtype), params)
      impls[f'ours jit {precision}'] = lambda f=apply_fn: f(x_device).block_until_ready()
    for name, amp in (('torch fp32', None), ('torch AMP fp16', torch.float16), ('torch AMP bf16', torch.bfloat16)):
      impls[name] = make_torch_infer(net, x, device, amp)
  measured = {}
  for name, call in impls.items():
    try:
      torch_peak_gib(reset=True)
      start = time.perf_counter()
      call()
      first = time.perf_counter() - start
      seconds = median_seconds(call, size.rounds)
      measured[name] = dict(
        median_ms=1e3 * seconds,
        per_s=batch / seconds,
        compile_s=first - seconds if 'ours' in name or 'compile' in name else None,
        peak_mem_gib=jax_peak_gib() if name.startswith('ours') else torch_peak_gib(),
        **flop_rate(flops, seconds),
      )
    except Exception as e:  # pylint: disable=broad-except
      measured[name] = dict(note=f'failed: {type(e).__name__}: {e}'[:300])
  torch_ms = {k: v['median_ms'] for k, v in measured.items() if k.startswith('torch') and 'median_ms' in v}
  for name, row in measured.items():
    if name.startswith('ours') and 'median_ms' in row:
      row['speedup'] = {k: ms / row['median_ms'] for k, ms in torch_ms.items()}
    results.add('inference' if compiled_net is None else 'torch.compile', case=case, impl=name, **row)


def bf16_tolerance(results, size, nets) -> None:
  """Ours bf16 vs ours fp32 (and ours fp32 vs torch fp32) on one smooth image, unclipped outputs."""
  module, params, net = nets
  lr_size = size.shapes[-1][0]
  x = synthetic_batch(1, 4 * lr_size)['lr']
  fp32 = np.asarray(make_apply_fn(module, params)(jnp.asarray(x)))
  bf16 = np.asarray(make_apply_fn(module.clone(dtype=jnp.bfloat16), params)(jnp.asarray(x)))
  torch_out = make_torch_infer(net, x, next(net.parameters()).device, None)().float().cpu().numpy()
  torch_out = torch_out.transpose(0, 2, 3, 1)
  value_range = float(fp32.max() - fp32.min())
  value = 10 * np.log10(value_range**2 / max(float(np.mean((bf16 - fp32) ** 2)), 1e-30))
  ok = value >= BF16_PSNR_DB
  results.add(
    'inference',
    case=f'LR {lr_size}x{lr_size} b1',
    impl='ours bf16 vs ours fp32',
    bf16_ok=ok,
    note=f'{"ok" if ok else "FAIL"}: PSNR {value:.1f} dB over the output range {value_range:.3g} (tolerance >= '
    f'{BF16_PSNR_DB:.0f} dB), max |diff| {np.abs(bf16 - fp32).max():.2g}; ours fp32 vs torch fp32 max |diff| '
    f'{np.abs(fp32 - torch_out).max():.2g}',
  )


def tiled_section(results, size, device, nets) -> None:
  module, params, net = nets
  height, width = size.frame
  rng = np.random.default_rng(3)
  image = np.clip(rng.random((height // 8 + 1, width // 8 + 1, 3)).repeat(8, 0).repeat(8, 1)[:height, :width], 0, 1)
  image = image.astype(np.float32)
  apply_fn = make_apply_fn(module.clone(dtype=jnp.bfloat16), params)
  tiles = lambda: upscale_image(apply_fn, image, scale=4, tile=size.tile, tile_pad=16, batch_tiles=4)
  case = f'{width}x{height} x4'
  start = time.perf_counter()
  tiles()
  first = time.perf_counter() - start
  start = time.perf_counter()
  out = tiles()
  seconds = time.perf_counter() - start
  results.add(
    'tiled',
    case=case,
    impl=f'ours bf16 tiles {size.tile}+2x16, 4 per call',
    median_ms=1e3 * seconds,
    per_s=1 / seconds,
    compile_s=first - seconds,
    peak_mem_gib=jax_peak_gib(),
    note=f'output {out.shape[1]}x{out.shape[0]}; host blending included',
  )
  try:
    call = make_torch_infer(net, image[None], device, torch.bfloat16)
    call()
    torch_peak_gib(reset=True)
    start = time.perf_counter()
    call()
    torch_s = time.perf_counter() - start
    results.add(
      'tiled',
      case=case,
      impl='torch AMP bf16 whole frame',
      median_ms=1e3 * torch_s,
      per_s=1 / torch_s,
      peak_mem_gib=torch_peak_gib(),
      note='device output, no host copy',
    )
  except Exception as e:  # pylint: disable=broad-except
    results.add('tiled', case=case, impl='torch AMP bf16 whole frame', note=f'failed: {type(e).__name__}: {e}'[:300])


def degradation_section(results, size) -> None:
  """GT patches degraded to LR inputs per second by the jitted `synthesize_batch`, a new index range (new kernels,
  noise and JPEG qualities) each call."""
  gt_size, batch = size.degrade
  run = jax.jit(synthesize_batch, static_argnums=3)
  gt = jax.device_put(np.random.default_rng(4).random((batch, gt_size, gt_size, 3), np.float32))
  key, calls = jax.random.key(0), iter(range(10**9))
  degrade = lambda: jax.block_until_ready(run(key, jnp.arange(batch) + batch * next(calls), gt, DegradationOptions()))
  start = time.perf_counter()
  degrade()
  first = time.perf_counter() - start
  seconds = median_seconds(degrade, size.rounds)
  results.add(
    'degradation',
    case=f'gt {gt_size} b{batch}',
    impl='ours jit fp32',
    median_ms=1e3 * seconds,
    per_s=batch / seconds,
    compile_s=first - seconds,
    note='per_s: GT patches degraded per second',
  )


def video_section(results, size, device) -> None:
  """Frames/s of a clip through our video path (bf16) vs a Real-ESRGAN-style torch pipeline (fp16 on a GPU)."""
  import tempfile  # pylint: disable=g-import-not-at-top

  try:
    import video as video_bench  # pylint: disable=g-import-not-at-top  (benchmarks/video.py; imports av)
  except ImportError as e:
    results.note(f'Skipped "video": {e} (bring the av wheel in .whl/, see benchmarks/README.md).')
    return
  from esrgan_jax.models.srvgg import SRVGGNetCompact  # pylint: disable=g-import-not-at-top

  shape = size.video
  module = SRVGGNetCompact(scale=4, **shape['compact'])
  params = video_bench.random_params(module)
  net = torch_archs.TorchSRVGGNetCompact(upscale=4, **shape['compact']).eval()
  net.load_state_dict(
    {k: torch.from_numpy(v) for k, v in generator_state_dicts.generator_to_torch(module, params).items()}
  )
  half = device.type == 'cuda'
  net = net.to(device).half() if half else net.to(device)
  case = f'compact {shape["width"]}x{shape["height"]} x4, {shape["frames"]} frames'
  with tempfile.TemporaryDirectory() as folder:
    clip = video_bench.make_clip(Path(folder) / 'clip.mp4', shape['frames'], shape['height'], shape['width'])
    ours_module = runtime.for_platform(module.clone(dtype=jnp.bfloat16))
    calls = {
      'ours bf16 video path': lambda: video_bench.ours(
        ours_module, params, clip, Path(folder) / 'ours.mp4', preset='veryfast'
      ),
      f'torch {"fp16" if half else "fp32"} Real-ESRGAN-style': lambda: video_bench.torch_pipeline(
        net, clip, Path(folder) / 'torch.mp4', preset='veryfast', half=half
      ),
    }
    times = timing.interleave(calls, 1 if size is TINY else 2)
  (ours_name, ours_times), (torch_name, torch_times) = times.items()
  for name, seconds in times.items():
    median = statistics.median(seconds)
    speedup = {torch_name: statistics.median(torch_times) / median} if name == ours_name else None
    results.add(
      'video',
      case=case,
      impl=name,
      median_ms=1e3 * median,
      per_s=shape['frames'] / median,
      speedup=speedup,
      note='per_s: frames per second, decode to closed output file (libx264 veryfast)',
    )


# -------------------------------------------------------------------------------------------------------------- main


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('out_dir', type=Path, help='RESULTS_gpu.md and results_gpu.json go here')
  parser.add_argument('--tiny', action='store_true', help='tiny nets and sizes: every code path on CPU in seconds')
  parser.add_argument(
    '--budget', type=float, default=None, help='seconds for the sections (watchdog: +40 s); default 400, --tiny 3600'
  )
  args = parser.parse_args()
  if importlib.util.find_spec('ml_collections') is None:
    print(
      'error: ml_collections is not installed (the shipped configs need it): bring its wheel in .whl/ and install it '
      'as benchmarks/README.md says.',
      file=sys.stderr,
    )
    return 2
  size = TINY if args.tiny else FULL
  args.budget = args.budget or (3600.0 if args.tiny else 400.0)
  jax_device = jax.devices()[0]  # JAX's backend (and its cuDNN) starts before torch touches CUDA
  device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
  torch.backends.cudnn.benchmark = True
  meta = {
    'mode': 'tiny' if args.tiny else 'full',
    'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
    'jax device': f'{jax_device.device_kind} ({jax.default_backend()}, {jax.device_count()} devices)',
    'torch device': torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu',
    'versions': f'python {platform.python_version()}, jax {jax.__version__}, torch {torch.__version__}',
    'budget_s': args.budget,
    'fp32 convs': f'jax default precision; torch cudnn.allow_tf32={torch.backends.cudnn.allow_tf32} (TF32 on GPUs)',
  }
  results = Results(args.out_dir, meta)
  budget = Budget(args.budget, results)
  if device.type == 'cpu':
    results.note('torch.compile skipped: no CUDA device (it compiles for minutes on CPU).')
  if jax.default_backend() == 'cpu':
    results.note('JAX runs on CPU: the % of bf16 peak figures are not meaningful.')
  nets = inference_nets(size, device)
  sections = [
    (f'train bf16 {s}', 60, lambda s=s: train_section(results, size, device, s, 'bf16')) for s in ('psnr', 'gan')
  ]
  sections += [
    (f'inference {n}x{b}', 20, lambda n=n, b=b: inference_shape(results, size, device, nets, n, b))
    for n, b in size.shapes
  ]
  sections += [('bf16 tolerance', 10, lambda: bf16_tolerance(results, size, nets))]
  sections += [('tiled', 30, lambda: tiled_section(results, size, device, nets))]
  sections += [('degradation', 30, lambda: degradation_section(results, size))]
  sections += [('video', 60, lambda: video_section(results, size, device))]
  sections += [
    (f'train fp32 {s}', 90, lambda s=s: train_section(results, size, device, s, 'fp32'))
    for s in (('psnr',) if args.tiny else ('psnr', 'gan'))  # --tiny: the GAN step's fp32 path is its bf16 path
  ]
  if device.type == 'cuda':
    compiled_net = torch.compile(nets[2], dynamic=False)
    sections += [
      (f'torch.compile {n}x{b}', 60, lambda n=n, b=b: inference_shape(results, size, device, nets, n, b, compiled_net))
      for n, b in size.shapes
    ]
  failed = False
  for name, needs_s, run in sections:
    if budget.left() < needs_s and not args.tiny:
      results.note(f'Skipped "{name}": {budget.left():.0f} s of the budget left, it needs about {needs_s} s.')
      continue
    budget.current = name
    print(f'[{time.monotonic() - START:6.1f} s] {name}', flush=True)
    try:
      run()
    except Exception:  # pylint: disable=broad-except  (one failed section must not lose the others)
      failed = True
      results.note(f'"{name}" failed: ' + traceback.format_exc(limit=4)[-1500:].replace('\n', ' / '))
  results.meta['peak JAX device memory GiB'] = jax_peak_gib()
  checks = [r for r in results.rows if 'smoke_ok' in r or 'bf16_ok' in r]
  ok = all(r.get('smoke_ok', True) and r.get('bf16_ok', True) for r in checks)
  results.note(f'Correctness checks: {"all passed" if ok else "FAILED"} ({len(checks)} checked).')
  print(f'Wrote {args.out_dir / "RESULTS_gpu.md"} in {time.monotonic() - START:.0f} s', flush=True)
  return 0 if ok and not failed else 1


if __name__ == '__main__':
  sys.exit(main())
