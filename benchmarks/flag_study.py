"""The XLA:CPU fusion choice of `esrgan_jax.runtime.FAST_CPU_FLAGS` on this host, in one process, calls interleaved.

    python benchmarks/flag_study.py [--size 64] [--num_block 23] [--rounds 5] [--json FILE]

Compiles RRDBNet x4 (fp32, batch 1) inference and a PSNR-stage gradient step (L1, batch 2, 32 px LR patches) three
times each, with the YNNPACK fusion types as jit compiler options: jaxlib's defaults, the fusions off (XLA's own
convs, `runtime.YNN_OFF_FLAGS`) and `+eltwise` (`runtime.YNN_ELTWISE_FLAGS`), and times them round by round in turn
beside PyTorch eager on the same weights, so a busy spell on a shared machine hits all alike (run_all.py's study
runs each setting in its own process instead, which is exact about process flags but needs an idle machine).
"""

import argparse
import os

import jax
import jax.numpy as jnp
import numpy as np
import timing
import torch

from esrgan_jax import runtime
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.weights.generator_state_dicts import generator_to_torch

SETTINGS = {  # impl name -> jit compiler options
  "jaxlib's defaults": {},
  'fusions off': {'xla_cpu_experimental_ynn_fusion_type': ''},
  '+eltwise': runtime.YNN_ELTWISE_COMPILER_OPTIONS,
}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--size', type=int, default=64, help='LR size of the inference case')
  parser.add_argument('--num_block', type=int, default=23)
  parser.add_argument('--rounds', type=int, default=5)
  parser.add_argument('--json', default=None)
  args = parser.parse_args()
  os.environ.pop('XLA_FLAGS', None)  # before JAX starts its backend: every setting comes from the jit options below
  torch_archs = timing.import_torch_reference()
  net = runtime.for_platform(RRDBNet(num_block=args.num_block), 'cpu')
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.random((1, args.size, args.size, 3), np.float32))
  params = jax.jit(net.init)(jax.random.key(0), x[:, :16, :16])['params']
  lr, hr = jnp.asarray(rng.random((2, 32, 32, 3), np.float32)), jnp.asarray(rng.random((2, 128, 128, 3), np.float32))

  def step(p, lr, hr):
    loss, grads = jax.value_and_grad(lambda p: jnp.mean(jnp.abs(net.apply({'params': p}, lr) - hr)))(p)
    return loss, jax.tree.map(lambda w, g: w - 1e-4 * g, p, grads)

  forward = lambda p, x: net.apply({'params': p}, x)
  infer, train, ynn = {}, {}, {}
  for name, options in SETTINGS.items():
    compiled = jax.jit(forward, compiler_options=options).lower(params, x).compile()
    ynn[name] = compiled.as_text().count('ynn_fusion')
    infer[f'ours {name}'] = lambda c=compiled: jax.block_until_ready(c(params, x))
    compiled_step = jax.jit(step, compiler_options=options).lower(params, lr, hr).compile()
    train[f'ours {name}'] = lambda c=compiled_step: jax.block_until_ready(c(params, lr, hr))
  print('YNNPACK fusions in the inference program:', ynn, flush=True)

  torch_net = torch_archs.TorchRRDBNet(num_block=args.num_block).eval()
  torch_net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in generator_to_torch(net, params).items()})
  x_t = torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy())
  lr_t = torch.from_numpy(np.asarray(lr).transpose(0, 3, 1, 2).copy())
  hr_t = torch.from_numpy(np.asarray(hr).transpose(0, 3, 1, 2).copy())
  optimizer = torch.optim.SGD(torch_net.parameters(), lr=1e-4)

  def torch_infer():
    with torch.no_grad():
      torch_net(x_t)

  def torch_step():
    optimizer.zero_grad()
    torch.mean(torch.abs(torch_net(lr_t) - hr_t)).backward()
    optimizer.step()

  infer['torch eager fp32'], train['torch eager fp32'] = torch_infer, torch_step
  rows = []
  for case, fns in ((f'{args.size}x{args.size} b1 inference', infer), ('psnr step b2 lr32', train)):
    with timing.OtherLoad() as load:
      times = timing.interleave(fns, args.rounds)
    baselines = {k: times[k] for k in ("ours jaxlib's defaults", 'torch eager fp32')}
    rows += [
      timing.row('flag_study', f'{case} nb{args.num_block}', impl, t, baselines=baselines, other_load=load.cores)
      for impl, t in times.items()
    ]
  timing.print_rows(rows)
  timing.write_rows(args.json, rows)


if __name__ == '__main__':
  main()
