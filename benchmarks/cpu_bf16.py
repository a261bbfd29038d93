"""bf16 upscaling on CPU: ours (fp32; bf16 on XLA's convs; bf16 on oneDNN's, esrgan_jax.cpu_kernels) against a
RealESRGANer-style PyTorch fp32 and PyTorch's best bf16 (autocast + channels_last + inference_mode), RRDBNet x4.

    python benchmarks/cpu_bf16.py [--quick] [--num_block 23] [--rounds 3] [--repeats 3] [--json FILE]

Cases (issue 31): a whole 128x128 image, and 192x256 in 128-px tiles (RealESRGANer's tiles with tile_pad 10 for
torch; ours as `upscale --tile 128 --tile-pad 10`), both cut from skimage's astronaut photo. The weights are random
(RRDBNet's init, 23 blocks = RealESRGAN_x4plus's architecture), written once as an esrgan_jax model file and a
BasicSR-named state dict (`tiled_upscale.write_weights`). Every (implementation, case) runs in its own process, the
implementations taking turns in an order that flips every round: a process loads the weights, upscales once (ours
compiles then, into a compile cache shared by the rounds, as a user's second run), then `--repeats` more times;
the table gives the median of those over all rounds, the ratios (> 1: faster) to PyTorch's bf16 and to the fp32
RealESRGANer, the process's peak RSS (VmHWM, the largest round) and the PSNR of each output (clipped to [0, 1]) against
ours fp32 with its range as the peak.
Ours fp32 and bf16 (XLA) run as the upscale CLI (fast CPU flags, one device per core); ours bf16 (oneDNN) with one
device, oneDNN spreading each conv over the cores as torch does. --quick: 2 rounds of 2 repeats. --convs: single
convs of RRDBNet's shapes instead, oneDNN vs XLA bf16 vs XLA fp32 in one process (rounds x repeats calls each).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import timing
from tiled_upscale import realesrgan_style_tiles, write_weights

SCALE, TILE, TILE_PAD = 4, 128, 10
CASES = {'whole 128x128': None, '192x256, 128-px tiles': TILE}
TORCH_FP32, TORCH_BF16 = 'RealESRGANer-style torch fp32', 'torch bf16 autocast + channels_last + inference_mode'
OURS_FP32, OURS_XLA, OURS_ONEDNN = 'ours fp32', 'ours bf16 (XLA convs)', 'ours bf16 (oneDNN convs)'
IMPLS = (TORCH_FP32, TORCH_BF16, OURS_FP32, OURS_XLA, OURS_ONEDNN)


def photo(case: str) -> np.ndarray:
  """The case's input, HWC float32 in [0, 1]: the astronaut photo downscaled to 128x128, or to 256x256 and cut to
  192x256."""
  import skimage.data  # pylint: disable=g-import-not-at-top
  import skimage.transform  # pylint: disable=g-import-not-at-top

  if CASES[case] is None:
    return skimage.transform.resize(skimage.data.astronaut(), (128, 128), anti_aliasing=True).astype(np.float32)
  return skimage.transform.resize(skimage.data.astronaut(), (256, 256), anti_aliasing=True)[32:224].astype(np.float32)


def torch_upscaler(impl: str, folder: Path, num_block: int, tile: int | None):
  """HWC [0, 1] -> x4 HWC by the torch reference RRDBNet, one tile per call as RealESRGANer runs them."""
  import torch  # pylint: disable=g-import-not-at-top

  net = timing.import_torch_reference().TorchRRDBNet(num_block=num_block).eval()
  net.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(folder / 'generator_torch.npz').items()})
  bf16 = impl == TORCH_BF16
  if bf16:
    net = net.to(memory_format=torch.channels_last)

  def run(x: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    if not bf16:
      with torch.no_grad():  # as RealESRGANer
        return net(x).numpy().transpose(0, 2, 3, 1)
    with torch.inference_mode(), torch.autocast('cpu', dtype=torch.bfloat16):
      return net(x.to(memory_format=torch.channels_last)).float().numpy().transpose(0, 2, 3, 1)

  if tile is None:
    return lambda image: run(image[None])[0]
  return lambda image: realesrgan_style_tiles(run, image, SCALE, tile, TILE_PAD)


def ours_upscaler(impl: str, folder: Path, tile: int | None):
  """HWC [0, 1] -> x4 HWC as `python -m esrgan_jax.upscale` computes it (model file, for_platform, make_apply_fn,
  upscale_array), in bf16 for the bf16 impls: `apply` runs the dense blocks on oneDNN where it is chosen, and the XLA
  bf16 impl turns that choice off."""
  from esrgan_jax import runtime  # pylint: disable=g-import-not-at-top

  runtime.use_fast_cpu_flags()
  if impl != OURS_ONEDNN:
    runtime.use_cpu_device_per_core()
  runtime.use_compile_cache()
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from esrgan_jax.inference import apply  # pylint: disable=g-import-not-at-top
  from esrgan_jax.weights import generator_files  # pylint: disable=g-import-not-at-top

  module, params = generator_files.load_generator_file(folder / 'generator.msgpack')
  module = runtime.for_platform(module.clone(dtype=None if impl == OURS_FP32 else jnp.bfloat16))
  from esrgan_jax.cpu_kernels import onednn_conv  # pylint: disable=g-import-not-at-top

  if impl == OURS_ONEDNN:
    if not onednn_conv.choice().onednn:
      raise SystemExit(f'{OURS_ONEDNN}: not on this host ({onednn_conv.choice().reason})')
    traced, conv = [], onednn_conv.onednn_conv
    onednn_conv.onednn_conv = lambda *a, **kw: traced.append(1) or conv(*a, **kw)
  elif impl == OURS_XLA:  # XLA's convs: the path upscale takes where oneDNN is not chosen
    onednn_conv.choice = lambda: onednn_conv.Choice(False, "the benchmark measures XLA's bf16 path")
  apply_fn = apply.make_apply_fn(module, params)
  del params  # as upscale: the apply function holds the params' one copy
  runtime.release_free_memory()
  batch_tiles = 1 if tile is None else apply.tiles_per_call(module)

  def upscale(image: np.ndarray) -> np.ndarray:
    out = apply.upscale_array(apply_fn, image, scale=SCALE, tile=tile or 0, tile_pad=TILE_PAD, batch_tiles=batch_tiles)
    if impl == OURS_ONEDNN and not traced:
      raise RuntimeError('the generator did not call the oneDNN conv: see apply.cpu_whole_batch_module')
    return out

  return upscale


def child(args) -> None:
  """One (implementation, case) in this process: prints {'times', 'peak_rss_mb'} and saves the output."""
  folder, tile = Path(args.weights_dir), CASES[args.case]
  if args.child.startswith('ours'):
    upscale = ours_upscaler(args.child, folder, tile)
  else:
    upscale = torch_upscaler(args.child, folder, args.num_block, tile)
  image = photo(args.case)
  out = upscale(image)  # warm-up: compiles ours
  times = []
  for _ in range(args.repeats):
    start = time.perf_counter()
    upscale(image)
    times.append(time.perf_counter() - start)
  np.save(args.output, np.clip(out, 0, 1))  # what both tools write (ours already clips)
  hwm = [line for line in Path('/proc/self/status').read_text().splitlines() if line.startswith('VmHWM:')]
  print(json.dumps({'times': times, 'peak_rss_mb': int(hwm[0].split()[1]) / 1024}))


# RRDBNet x4's conv shapes on a 128x128 input: (side, Cin, Cout) of the dense-block convs, the trunk, the HR convs
CONV_SHAPES = ((128, 64, 32), (128, 128, 32), (128, 192, 64), (256, 64, 64), (512, 64, 64), (512, 64, 3))


def conv_rows(rounds: int) -> None:
  """One 3x3 conv (stride 1, padding 1, bias) of each of `CONV_SHAPES` by oneDNN (bf16), XLA in bf16 (as layers.Conv)
  and XLA in fp32 (with the upscale CLI's fast CPU flags), taking turns call by call in this process: milliseconds
  and GFLOP/s."""
  from esrgan_jax import runtime  # pylint: disable=g-import-not-at-top

  runtime.use_fast_cpu_flags()
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from esrgan_jax.cpu_kernels import onednn_conv  # pylint: disable=g-import-not-at-top

  xla = jax.jit(
    lambda x, k, b: (
      jax.lax.conv_general_dilated(x, k, (1, 1), [(1, 1)] * 2, dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
      + b.astype(x.dtype)
    )
  )
  ours = jax.jit(onednn_conv.onednn_conv)
  rng = np.random.default_rng(0)
  print(
    '| conv (input side, Cin -> Cout) | oneDNN bf16 ms | XLA bf16 ms | XLA fp32 ms | oneDNN GFLOP/s | vs XLA fp32 |'
  )
  print('|---|---|---|---|---|---|')
  with timing.OtherLoad() as load:
    for side, cin, cout in CONV_SHAPES:
      x = rng.standard_normal((1, side, side, cin)).astype(np.float32)
      k, b = rng.normal(0, (9 * cin) ** -0.5, (3, 3, cin, cout)).astype(np.float32), np.zeros(cout, np.float32)
      x16, k16 = jnp.asarray(x, jnp.bfloat16), jnp.asarray(k, jnp.bfloat16)
      calls = {'onednn': (ours, x16, k16, b), 'bf16': (xla, x16, k16, b), 'fp32': (xla, x, k, b)}
      fns = {name: lambda fn=fn, a=a: fn(*a).block_until_ready() for name, (fn, *a) in calls.items()}
      ms = {name: 1e3 * statistics.median(t) for name, t in timing.interleave(fns, rounds).items()}
      gflops = 2 * side * side * 9 * cin * cout / ms['onednn'] / 1e6
      print(
        f'| {side}x{side}, {cin} -> {cout} | {ms["onednn"]:.1f} | {ms["bf16"]:.1f} | {ms["fp32"]:.1f} | {gflops:.0f} | '
        f'{ms["fp32"] / ms["onednn"]:.2f}x |'
      )
  print(f'{rounds} calls each; other processes kept {load.cores:.2f} cores busy')


def _psnr(out: np.ndarray, reference: np.ndarray) -> float:
  """PSNR of outputs clipped to [0, 1], the reference's range as the peak (random weights saturate many pixels)."""
  return float(10 * np.log10(np.ptp(reference) ** 2 / max(np.mean((out - reference) ** 2), 1e-30)))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--quick', action='store_true', help='2 rounds of 2 repeats')
  parser.add_argument('--num_block', type=int, default=23)
  parser.add_argument('--rounds', type=int, default=None, help='processes per (implementation, case); default 3')
  parser.add_argument('--repeats', type=int, default=None, help='timed upscales per process; default 3')
  parser.add_argument('--impls', nargs='+', default=list(IMPLS), choices=IMPLS)
  parser.add_argument('--json', default=None)
  parser.add_argument('--convs', action='store_true', help='time single convs of RRDBNet shapes instead (one process)')
  parser.add_argument('--child', default=None, help=argparse.SUPPRESS)
  parser.add_argument('--case', default=None, help=argparse.SUPPRESS)
  parser.add_argument('--weights-dir', default=None, help=argparse.SUPPRESS)
  parser.add_argument('--output', default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  args.rounds = args.rounds or (2 if args.quick else 3)
  args.repeats = args.repeats or (2 if args.quick else 3)
  if args.child:
    child(args)
    return
  if args.convs:
    conv_rows(args.repeats * args.rounds)
    return
  results = {(impl, case): {'times': [], 'peak_rss_mb': 0.0} for case in CASES for impl in args.impls}
  output = lambda impl, case: Path(tmp) / f'{args.impls.index(impl)}_{list(CASES).index(case)}.npy'
  with tempfile.TemporaryDirectory() as tmp, timing.OtherLoad() as load:
    folder = Path(tmp)
    write_weights(folder, args.num_block)
    env = {'JAX_PLATFORMS': 'cpu', **os.environ, 'ESRGAN_JAX_COMPILE_CACHE': str(folder / 'cache')}
    env.pop('XLA_FLAGS', None)
    for r in range(args.rounds):
      for impl in args.impls if r % 2 == 0 else args.impls[::-1]:
        for case in CASES:
          command = [sys.executable, __file__, '--child', impl, '--case', case, '--weights-dir', tmp]
          command += [
            '--output',
            str(output(impl, case)),
            '--num_block',
            str(args.num_block),
            '--repeats',
            str(args.repeats),
          ]
          proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
          if proc.returncode:
            raise RuntimeError(f'{impl}, {case} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}')
          result, row = json.loads(proc.stdout.strip().splitlines()[-1]), results[impl, case]
          row['times'] += result['times']
          row['peak_rss_mb'] = max(row['peak_rss_mb'], result['peak_rss_mb'])
          print(f'  round {r}: {impl}, {case}: {result}', flush=True)
    for (impl, case), row in results.items():
      if OURS_FP32 in args.impls and impl != OURS_FP32:
        row['psnr_vs_ours_fp32'] = _psnr(np.load(output(impl, case)), np.load(output(OURS_FP32, case)))
  load_note = f'other processes kept {load.cores:.2f} cores busy'
  print(f'{args.num_block} blocks, {args.rounds} rounds x {args.repeats} repeats; {load_note}')
  print('| case | implementation | median s | vs torch bf16 | vs RealESRGANer fp32 | peak RSS MB | PSNR vs ours fp32 |')
  print('|---|---|---|---|---|---|---|')
  medians = {key: statistics.median(row['times']) for key, row in results.items()}
  for (impl, case), row in results.items():
    row['median_s'] = medians[impl, case]
    ratios = [
      f'{medians[base, case] / row["median_s"]:.2f}x' if (base, case) in medians else ''
      for base in (TORCH_BF16, TORCH_FP32)
    ]
    psnr = row.get('psnr_vs_ours_fp32')
    print(
      f'| {case} | {impl} | {row["median_s"]:.2f} | {" | ".join(ratios)} | {row["peak_rss_mb"]:.0f} | '
      f'{"" if psnr is None else f"{psnr:.1f} dB"} |'
    )
  if args.json:
    Path(args.json).write_text(json.dumps({f'{i} | {c}': row for (i, c), row in results.items()}, indent=1))


if __name__ == '__main__':
  main()
