"""The pod table of docs/tpu_pods.md: `python -m esrgan_jax.aot` for six TPU slices x two recipes, one process each;
with `--gpu` its GPU rows: one host of 8 H100s x the same recipes.

    PYTHONPATH=. python benchmarks/aot_pods.py OUT_DIR [--gpu] [--table-only]

Writes OUT_DIR/RECIPE_SLICE.json (the tool's report) and .txt (its table) per row, skipping rows whose JSON exists
(rerun to resume), then prints the markdown table from every JSON present. `--table-only` compiles nothing. Needs
libtpu (the [tpu] extra), or with `--gpu` the jax CUDA plugin (the [cuda] extra; install it apart from [tpu]). Each
compile of a 23-block step takes minutes.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

SLICES = ('v5e:2x4', 'v5e:8x8', 'v5e:16x16', 'v4:2x2x4', 'v5p:4x4x4', 'v6e:8x8')
GPU_SLICES = ('h100:8',)
# recipe: (config, HR patches per chip): ESRGAN's batch 16 on one GPU; Real-ESRGAN x4plus's 48 over 4 GPUs
RECIPES = {'esrgan_gan': ('configs/gan.py', 16), 'realesrgan_x4plus': ('configs/realesrgan_x4plus.py', 12)}
FLAGS = ('--bf16', '--config.scan_blocks=True')


def command(recipe: str, slice_name: str, out: Path) -> list[str]:
  config, batch = RECIPES[recipe]
  return [sys.executable, '-m', 'esrgan_jax.aot', '--config', config, '--topology', slice_name,
          '--per_chip_batch', str(batch), *FLAGS, '--json', str(out),
          '--hlo_dir', str(out.with_suffix(''))]  # fmt: skip


def row(recipe: str, report: dict) -> str:
  m, gib = report['memory_bytes'], 2**30
  collectives = ', '.join(
    f'{op} x{c["ops"]} {c["bytes"] / 2**20:.1f} MiB' for op, c in sorted(report['collectives'].items())
  )
  checks = (
    'ok' if not any(report['checks'].values()) else 'FAILED ' + ', '.join(k for k, v in report['checks'].items() if v)
  )
  return (
    f'| {recipe} | {report["topology"]} | {report["chips"]} / {report["hosts"]} | {report["per_chip_batch"]} / '
    f'{report["global_batch"]} | {m["argument"] / gib:.2f} / {m["output"] / gib:.2f} / {m["temp"] / gib:.2f} / '
    f'**{m["total"] / gib:.2f}** of {report["hbm_bytes"] / gib:.1f} | {report["flops_per_chip"]:.3g} | {collectives} | '
    f'{report["roofline"]["step_s"] * 1e3:.1f} ({report["roofline"]["bound"]}) | {report["hr_patches_per_s"]:,.0f} | '
    f'{report["compile_s"]:.0f} | {checks} |'
  )


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('out_dir', type=Path)
  parser.add_argument('--gpu', action='store_true', help=f'the GPU rows ({", ".join(GPU_SLICES)}) instead')
  parser.add_argument('--table-only', action='store_true')
  args = parser.parse_args()
  args.out_dir.mkdir(parents=True, exist_ok=True)
  slices = GPU_SLICES if args.gpu else SLICES
  failed = False
  for recipe in RECIPES:
    for slice_name in slices:
      out = args.out_dir / f'{recipe}_{slice_name.replace(":", "_")}.json'
      if args.table_only or out.is_file():
        continue
      with open(out.with_suffix('.txt'), 'w') as log:
        failed |= subprocess.run(command(recipe, slice_name, out), stdout=log, check=False).returncode != 0
  print('| recipe | slice | chips / hosts | HR patches per chip / global | HBM per chip GiB: arguments / outputs / '
        'temp / **total** of HBM | FLOPs per step per chip | collectives per step (per chip) | roofline ms per step '
        '(bound) | HR patches/s (estimate) | compile s | checks |')  # fmt: skip
  print('|' + '---|' * 11)
  for recipe in RECIPES:
    for slice_name in slices:
      out = args.out_dir / f'{recipe}_{slice_name.replace(":", "_")}.json'
      if out.is_file():
        for report in json.loads(out.read_text()):
          print(row(recipe, report))
  return 1 if failed else 0


if __name__ == '__main__':
  sys.exit(main())
