"""Compiles the training step `main` runs for a TPU pod slice, or the H100s of one host, on this host (no TPU or GPU
needed) and plans the run from the compiled program: `python -m esrgan_jax.aot --config configs/gan.py --topology
v5e:16x16|h100:8 [--per_chip_batch N|auto] [--bf16] [--config.FIELD=VALUE ...] [--json FILE]`.

Prints, per stage of the config: chips and hosts, per-chip and global batch, HBM per chip (arguments / outputs /
temporaries / total against the chip's), FLOPs per step, each collective with its bytes per step, a roofline step
time and HR patches/s from the chip's public figures (`esrgan_jax.planning.chips`), the compile time, and checks
that fail loudly (exit 1): the state is donated (aliased), the collectives move the gradients and nothing
batch-sized, and with `--check_scaling` per-chip memory equals that of a 4-chip slice. Figures are estimates from the
compiled program until a run on the accelerator confirms them. Needs libtpu (`pip install "esrgan_jax[tpu]"`), or for
GPUs the jax CUDA plugin (`pip install "esrgan_jax[cuda]"`, i.e. jax[cuda12]==0.10.2); the compilation runs in a child
process with the TPU runtime's start-up warnings filtered out, so no other tool loads libtpu.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from absl import app, flags
from ml_collections import config_flags

from esrgan_jax import configs, extras
from esrgan_jax.planning import topology
from esrgan_jax.training import config_errors

FLAGS = flags.FLAGS
flags.DEFINE_string('topology', None, 'TPU slice, GENERATION:AxB[xC]: v5e:16x16 (v5e-256), v4:2x2x4 (v4-32), ...; '
                    'or h100:N, N H100s of one host (N <= 8).')  # fmt: skip
flags.DEFINE_integer('num_slices', 1, 'Slices joined over the data-centre network (multi-slice).')
flags.DEFINE_string('per_chip_batch', 'config', "HR patches per chip: N, 'auto' (the largest that fits in HBM, "
                    "found by compiling), or 'config' (the stage's batch_size).")  # fmt: skip
flags.DEFINE_bool('bf16', False, 'bfloat16 compute (config.half_precision=True).')
flags.DEFINE_bool('check_scaling', False, 'Also compile for a 4-chip slice of the generation at the same per-chip '
                  'batch; per-chip memory must not differ.')  # fmt: skip
flags.DEFINE_string('json', None, 'Also write the reports to this JSON file.')
flags.DEFINE_string('hlo_dir', None, "Also write each stage's optimised HLO (every collective) to DIR/STAGE.hlo.txt.")
config_flags.DEFINE_config_file(
  'config',
  None,
  'Training config (configs/*.py or a bundled name; configs/tpu.py:chips=N for a slice).',
  lock_config=True,
)

CHILD_ENV = 'ESRGAN_JAX_AOT_CHILD'
# libtpu's start-up complaints on a host without a TPU (it cannot find the accelerator type or worker hosts)
TPU_NOISE = ('TPU_ACCELERATOR_TYPE', 'TPU_WORKER_HOSTNAMES', 'Logging before InitGoogle', 'Source Location Trace',
             'libtpu_init_utils', 'Failed to find host bounds', 'Transparent hugepages')  # fmt: skip
SMALL_SLICES = {'v4': 'v4:2x2x1', 'v5e': 'v5e:2x2', 'v5p': 'v5p:2x2x1', 'v6e': 'v6e:2x2', 'h100': 'h100:4'}  # 4 chips


def _per_chip_batch(text: str) -> str | int:
  if text in ('auto', 'config'):
    return text
  if not text.isdigit() or int(text) < 1:
    config_errors.exit_with(f"--per_chip_batch must be a positive integer, 'auto' or 'config', got {text!r}.")
  return int(text)


def run_child(argv: list[str]) -> int:
  """Runs this tool again in a child process (TPU environment set, libtpu's start-up noise filtered from stderr)."""
  # compile-only: no TPU is opened, so several planners (and tests) may load libtpu at once; JAX_PLATFORMS=cpu also
  # lets the CUDA plugin register without a GPU driver (it skips its CUDA version check, the call that needs one)
  env = {
    **os.environ,
    CHILD_ENV: '1',
    'JAX_PLATFORMS': 'cpu',
    'TPU_SKIP_MDS_QUERY': '1',
    'ALLOW_MULTIPLE_LIBTPU_LOAD': '1',
  }
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  child = subprocess.Popen(
    [sys.executable, '-m', 'esrgan_jax.aot', *argv[1:]], env=env, stderr=subprocess.PIPE, text=True, bufsize=1
  )
  signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # so that `finally` ends the child
  try:
    for line in child.stderr:
      if not any(noise in line for noise in TPU_NOISE) and not line.startswith(('E0000 ', 'W0000 ', 'I0000 ')):
        sys.stderr.write(line)
    code = child.wait()
    if code < 0:  # killed by a signal: a compiler crash (libtpu 0.0.42.1 segfaulted on ESRGAN for v6e)
      print(f'error: the compiling process died of {signal.Signals(-code).name}: the compiler crashed', file=sys.stderr)
      return 1
    return code
  finally:
    if child.poll() is None:
      child.kill()


def compile_and_report() -> int:
  """The child's work: one report per stage, printed as a table; exit 1 if a check failed."""
  from esrgan_jax.planning import report  # pylint: disable=g-import-not-at-top  (imports jax: in the child only)

  config = FLAGS.config
  with config.unlocked():
    if FLAGS.bf16:
      config.half_precision = True
  slice_topology = topology.parse(FLAGS.topology, FLAGS.num_slices)
  reference = topology.parse(SMALL_SLICES[slice_topology.generation]) if FLAGS.check_scaling else None
  batch_arg = _per_chip_batch(FLAGS.per_chip_batch)
  if FLAGS.hlo_dir:
    Path(FLAGS.hlo_dir).mkdir(parents=True, exist_ok=True)
  reports, failed = [], False
  for stage_name in config.stages:
    batch = config[stage_name].batch_size if batch_arg == 'config' else batch_arg
    if batch == 'auto':
      usable, _ = report.usable_hbm_bytes(report.CHIPS[slice_topology.generation])
      batch, tried = report.largest_batch(config, stage_name, topology.devices(slice_topology), usable)
      print(f'{stage_name}: per-chip batches tried: ' + ', '.join(f'{b}: {s}' for b, s in sorted(tried.items())))
      if not batch:
        print(f'{stage_name}: not even one HR patch per chip fits on {slice_topology}.')
        failed = True
        continue
    try:
      hlo = Path(FLAGS.hlo_dir) / f'{stage_name}.hlo.txt' if FLAGS.hlo_dir else None
      result = report.plan(config, stage_name, slice_topology, batch, reference, hlo)
    except Exception as e:  # noqa: BLE001  (XlaRuntimeError: only running out of HBM is an answer, not a crash)
      if not any(marker in str(e) for marker in report.OUT_OF_MEMORY):
        raise
      print(f'{stage_name}: {batch} HR patches per chip do not fit on {slice_topology}: {str(e).splitlines()[0]}')
      failed = True
      continue
    print(report.format_table(result), flush=True)
    print()
    failed |= any(result['checks'].values())
    reports.append(result)
  if FLAGS.json:
    Path(FLAGS.json).write_text(json.dumps(reports, indent=1, default=str))
    print(f'Wrote {FLAGS.json}')
  return 1 if failed else 0


def main(argv: list[str]) -> int:
  if len(argv) > 1:
    config_errors.exit_with(f'unexpected arguments {argv[1:]}')
  from esrgan_jax.training import config_checks  # pylint: disable=g-import-not-at-top  (imports jax, not libtpu)

  try:
    config_checks.check(FLAGS.config)
  except ValueError as e:
    config_errors.exit_with(str(e))
  try:
    platform = topology.parse(FLAGS.topology, FLAGS.num_slices).platform
  except ValueError as e:
    config_errors.exit_with(str(e))
  _per_chip_batch(FLAGS.per_chip_batch)
  if os.environ.get(CHILD_ENV) == '1':
    return compile_and_report()
  if extras.missing_modules(platform):  # the extras 'tpu' and 'cuda' are named after the platforms
    config_errors.exit_with(extras.install_hint(platform))
  return run_child(sys.argv)


if __name__ == '__main__':
  flags.mark_flags_as_required(['config', 'topology'])
  app.run(
    lambda argv: sys.exit(main(argv)), argv=configs.resolve_argv(sys.argv), flags_parser=config_errors.parse_flags
  )
