"""Choices that depend on the platform a process runs on, made by entry points and the trainer, never at import.

`use_fast_cpu_flags()` sets the XLA:CPU flags `fast_cpu_flags()` picks for this CPU, before JAX starts its backend.
jaxlib 0.10 hands each convolution to YNNPACK as a lone op, and YNNPACK decides per conv how many cores to use:
- On CPUs with AVX-512 (AMD EPYC Zen 4 here) it ran most of RRDBNet's convolutions on one core of 2.
  `--xla_cpu_experimental_ynn_fusion_type=+eltwise` lets XLA fuse each convolution with the elementwise ops after it
  (bias add, scaling) into one YNNPACK graph, which uses every core: 1.77x jaxlib's defaults at 64x64 b1.
- On CPUs without AVX-512 (AMD EPYC with AVX2 only here) YNNPACK still runs the 64-input-channel convs of a 64x64
  image on one core with that flag (benchmarks/thread_profile.py: conv1 99% on one core). For inference, turning
  the YNNPACK fusions off (`--xla_cpu_experimental_ynn_fusion_type=`, XLA's own multi-threaded convs) is 1.35x
  `+eltwise` and 1.71x jaxlib's defaults there; the train step still runs fastest with `+eltwise` (1.27x jaxlib's
  defaults, 1.19x the fusions off).
- On an Intel Xeon with AVX-512 and AMX, inference ran 1.37x jaxlib's defaults with `+eltwise` (the fusions off:
  0.97x), while the train step ran fastest with jaxlib's defaults (`+eltwise` 0.94x, the fusions off 0.64x;
  benchmarks/flag_study.py, a 4-block net on a heavily loaded host), so training there keeps jaxlib's defaults.
- Any other CPU (other vendors and instruction sets, other architectures) keeps jaxlib's defaults: no flags.
benchmarks/RESULTS.md has the machines' flag studies. XLA reads XLA_FLAGS once, when the first JAX computation
starts its backend, and kills the process on a flag it does not know, so the flags are only set on jaxlib releases
they were checked on (`CHECKED_JAXLIB_RELEASES`, the releases setup.cfg allows), and never over a user's own XLA_FLAGS
(even an empty one). It logs once which flags it chose and why, and records them (`applied_cpu_flags`): the
inference code reads that record (`runs_xla_convs`), not the environment.
The command-line entry points call it when run as scripts (`main` and `ablation` with `training=True`; `upscale`,
`evaluate` and `interpolate` for inference); in a notebook, call it first thing.

`use_cpu_device_per_core()` gives JAX's CPU backend one device per core (`jax_num_cpu_devices`), so a batch of
images or tiles split over the devices (`esrgan_jax.inference.apply.make_apply_fn`) runs each part on its own core
instead of asking XLA to spread each conv over the cores (64x64 b8 on the AVX2 host, 2 cores: 1.16x-1.24x torch
eager). Tiles run one per call there instead (`esrgan_jax.inference.apply.tiles_per_call`): the one-device program
with Winograd convs beat them split over the cores (256x256 in 128-px tiles: 1.28x-1.54x a Real-ESRGAN-style torch
tiler at 715-737 MB against 1.07x-1.11x at 1,298 MB; benchmarks/RESULTS.md). Split programs compile with
`batch_split_compiler_options()`: the `+eltwise` fusions, which are fastest on one core, even where the process
flags turned them off for whole-image inference. `upscale` and the inference benchmarks call it.

`use_compile_cache()` turns on JAX's persistent compilation cache, so a second run of a tool on the same shapes loads
its compiled programs from disk instead of compiling them again (seconds per image size for the full RRDBNet). The
cache lives in `compile_cache_dir()`: $ESRGAN_JAX_COMPILE_CACHE if set (`off` or `0` turns the cache off), else
$XDG_CACHE_HOME/esrgan_jax/jax, else ~/.cache/esrgan_jax/jax; a user's own `jax_compilation_cache_dir`
(JAX_COMPILATION_CACHE_DIR) wins. `upscale` and `evaluate` call it unless given `--no-compile-cache`.

`ONE_SHOT_COMPILER_OPTIONS` are `jax.jit` compiler options for programs that run once, such as a train state's
random init: XLA:CPU's LLVM passes spend tens of seconds optimising the random-number kernels of an init that then
runs for milliseconds (the tiny test net's init: 41 s to compile, 6 s unoptimised, on 2 loaded cores). Unoptimised code
computes the same values up to the last bit of some float32 normals.

`for_platform(module)` gives a generator the implementation of its parts that runs fastest on the backend JAX runs on
(as flax's imagenet example passes its blocks the conv to use): RRDBNet's dense blocks as
`esrgan_jax.models.split_conv.SplitConvDenseBlock` on CPU.
"""

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

from esrgan_jax import user_dirs

if TYPE_CHECKING:  # flax and jax load only when a function needs them, so tools start fast
  import flax.linen as nn

YNN_ELTWISE_FLAGS = ('--xla_cpu_experimental_ynn_fusion_type=+eltwise',)  # training; inference with AVX-512
YNN_OFF_FLAGS = ('--xla_cpu_experimental_ynn_fusion_type=',)  # inference on x86 without AVX-512
YNN_ELTWISE_COMPILER_OPTIONS = {  # YNN_ELTWISE_FLAGS for one jax.jit: jaxlib 0.10's default fusion types + ELTWISE
  'xla_cpu_experimental_ynn_fusion_type': ','.join(
    f'LIBRARY_FUSION_TYPE_{name}' for name in ('INDIVIDUAL_DOT', 'INDIVIDUAL_CONVOLUTION', 'ELTWISE')
  )
}
# Host kind -> (inference flags, training flags), from the flag studies of benchmarks/RESULTS.md (jaxlib 0.10).
FAST_CPU_FLAGS = {
  'AMD with AVX-512': (YNN_ELTWISE_FLAGS, YNN_ELTWISE_FLAGS),  # AMD EPYC (Zen 4)
  'AMD with AVX2': (YNN_OFF_FLAGS, YNN_ELTWISE_FLAGS),  # AMD EPYC without AVX-512
  'Intel with AVX-512 and AMX': (YNN_ELTWISE_FLAGS, ()),  # Intel Xeon (Sapphire Rapids or later)
}
CHECKED_JAXLIB_RELEASES = ((0, 10),)  # (major, minor) of the jaxlib releases whose XLA accepts both flag sets:
# 0.10.1 and 0.10.2 (0.10.0 accepts them but has no YNNPACK fusions; setup.cfg asks for jax>=0.10.1,<0.11)
COMPILE_CACHE_ENV = 'ESRGAN_JAX_COMPILE_CACHE'
_OFF = ('', '0', 'off', 'false', 'no')
ONE_SHOT_COMPILER_OPTIONS = {'xla_backend_optimization_level': 0}


def _jaxlib_release() -> tuple[int, int] | None:
  import importlib.metadata  # pylint: disable=g-import-not-at-top  (a tenth of a second; --help needs none of it)

  try:
    major, minor = importlib.metadata.version('jaxlib').split('.')[:2]
    return int(major), int(minor)
  except (importlib.metadata.PackageNotFoundError, ValueError):
    return None


_applied_flags: tuple[str, ...] = ()  # the flag set use_fast_cpu_flags put into this process's XLA_FLAGS


def _backend_started() -> bool:
  """Whether JAX started its backend (XLA read its flags): `jax_num_cpu_devices` then refuses any other value, JAX's
  public way to tell (a value accepted is put back at once)."""
  if 'jax' not in sys.modules:
    return False
  import jax  # pylint: disable=g-import-not-at-top

  count = jax.config.jax_num_cpu_devices
  try:
    jax.config.update('jax_num_cpu_devices', max(count, 0) + 1)
  except RuntimeError:
    return True
  jax.config.update('jax_num_cpu_devices', count)
  return False


def _read_cpuinfo() -> str:
  try:
    return Path('/proc/cpuinfo').read_text()
  except OSError:
    return ''


def cpu_features(cpuinfo: str | None = None) -> frozenset[str] | None:
  """The instruction-set flags of the first CPU in `cpuinfo` (default: /proc/cpuinfo), e.g. {'avx2', 'avx512f'}; None
  when there is no x86 `flags` line to read (other systems and architectures)."""
  if cpuinfo is None:
    cpuinfo = _read_cpuinfo()
  for line in cpuinfo.splitlines():
    if line.startswith('flags') and ':' in line:
      return frozenset(line.split(':', 1)[1].split())
  return None


def has_avx512(cpuinfo: str | None = None) -> bool | None:
  """Whether the CPU that `cpuinfo` describes (default: this one) has AVX-512 (`avx512f`); None when unknown."""
  features = cpu_features(cpuinfo)
  return None if features is None else 'avx512f' in features


def host_kind(cpuinfo: str | None = None) -> str | None:
  """The kind of the CPU that `cpuinfo` describes (default: this one) among those measured (`FAST_CPU_FLAGS`), or
  None for any other CPU."""
  features = cpu_features(cpuinfo)
  text = cpuinfo if cpuinfo is not None else _read_cpuinfo()
  vendor = next((line.split(':', 1)[1].strip() for line in text.splitlines() if line.startswith('vendor_id')), '')
  if features is None:
    return None
  if vendor == 'AuthenticAMD' and 'avx2' in features:
    return 'AMD with AVX-512' if 'avx512f' in features else 'AMD with AVX2'
  if vendor == 'GenuineIntel' and {'avx512f', 'amx_tile'} <= features:
    return 'Intel with AVX-512 and AMX'
  return None


def fast_cpu_flags(training: bool = False, cpuinfo: str | None = None) -> tuple[str, ...]:
  """The XLA_FLAGS entries for training or for inference on the CPU that `cpuinfo` describes (default: this one):
  `FAST_CPU_FLAGS` of its `host_kind`, none (jaxlib's defaults) on other CPUs (see the module docstring)."""
  kind = host_kind(cpuinfo)
  return FAST_CPU_FLAGS[kind][training] if kind else ()


def use_fast_cpu_flags(environ: MutableMapping[str, str] | None = None, training: bool = False) -> bool:
  """Puts `fast_cpu_flags(training)` into `environ['XLA_FLAGS']` (default `os.environ`); returns whether it did.

  Call it before the first JAX computation of the process (importing jax is fine). It leaves XLA_FLAGS alone when
  the user set it (set it to '' to opt out), on CPUs not measured, when the installed jaxlib is not one of
  `CHECKED_JAXLIB_RELEASES` (a warning says so), and when JAX's backend already started (XLA would not read the flags
  any more; a warning says so); otherwise it records the flags (`applied_cpu_flags`). It logs which path it chose.
  """
  global _applied_flags
  environ = os.environ if environ is None else environ
  flags = fast_cpu_flags(training)
  workload = 'training' if training else 'inference'
  release = _jaxlib_release()
  if 'XLA_FLAGS' in environ:
    logging.info('XLA:CPU flags: keeping the XLA_FLAGS set before the run (%r).', environ['XLA_FLAGS'])
    return False
  if not flags:
    logging.info("XLA:CPU flags: none for %s (a CPU kind not measured): jaxlib's defaults.", workload)
    return False
  if release not in CHECKED_JAXLIB_RELEASES:
    logging.warning(
      "XLA:CPU flags: jaxlib %s is not a release the flags were checked on (%s), so %s runs with jaxlib's defaults, "
      'slower; install a jax release that setup.cfg allows.',
      '.'.join(map(str, release)) if release else '(unknown)',
      ', '.join('.'.join(map(str, r)) for r in CHECKED_JAXLIB_RELEASES),
      workload,
    )
    return False
  if environ is os.environ and _backend_started():
    logging.warning(
      'use_fast_cpu_flags() was called after JAX started its backend, so XLA will not read %s; call '
      'it before the first JAX computation.',
      ' '.join(flags),
    )
    return False
  environ['XLA_FLAGS'] = ' '.join(flags)
  if environ is os.environ:
    _applied_flags = flags
  logging.info('XLA:CPU flags for %s on %s: %s.', workload, host_kind(), ' '.join(flags))
  return True


def applied_cpu_flags() -> tuple[str, ...]:
  """The XLA flags `use_fast_cpu_flags` set for this process; () when it set none."""
  return _applied_flags


def usable_cores() -> int:
  """The number of cores this process may run on (its CPU affinity where the OS has one)."""
  return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1


def use_cpu_device_per_core(environ: MutableMapping[str, str] | None = None) -> int | None:
  """Gives JAX's CPU backend one device per core this process may run on; returns that count, or None when it left
  the count alone: on one core, when the user chose a count (JAX_NUM_CPU_DEVICES, XLA's
  `--xla_force_host_platform_device_count`, or `jax_num_cpu_devices` in this process) and when JAX's backend already
  started (a warning says so). Before JAX is imported it only sets JAX_NUM_CPU_DEVICES in `environ` (default
  `os.environ`), so `--help` stays fast; after, it updates `jax_num_cpu_devices`."""
  environ = os.environ if environ is None else environ
  chosen = 'JAX_NUM_CPU_DEVICES' in environ or 'xla_force_host_platform_device_count' in environ.get('XLA_FLAGS', '')
  cores = usable_cores()
  if chosen or cores < 2:
    return None
  if environ is not os.environ or 'jax' not in sys.modules:
    environ['JAX_NUM_CPU_DEVICES'] = str(cores)
    return cores
  import jax  # pylint: disable=g-import-not-at-top

  if jax.config.jax_num_cpu_devices != -1:
    return None
  try:
    jax.config.update('jax_num_cpu_devices', cores)  # refused once the backend started
  except RuntimeError:
    logging.warning('use_cpu_device_per_core() was called after JAX started its backend; call it first thing.')
    return None
  return cores


def runs_xla_convs() -> bool:
  """Whether `use_fast_cpu_flags` turned YNNPACK's fusions off in this process (`YNN_OFF_FLAGS`): XLA's own
  multi-threaded convs, chosen for whole-image inference without AVX-512."""
  return _applied_flags == YNN_OFF_FLAGS


def batch_split_compiler_options(xla_convs: bool | None = None) -> dict[str, str]:
  """`jax.jit` compiler options for a CPU forward whose batch is split over one device per core:
  `YNN_ELTWISE_COMPILER_OPTIONS` when the process runs XLA's own convs (`xla_convs`, default `runs_xla_convs()`; on
  one core they are slower than YNNPACK's fused ones), else none (the process runs with `+eltwise` already, or with
  flags the user chose)."""
  return dict(YNN_ELTWISE_COMPILER_OPTIONS) if (runs_xla_convs() if xla_convs is None else xla_convs) else {}


def release_free_memory() -> bool:
  """Gives the pages glibc's malloc holds free back to the OS (`malloc_trim(0)`); returns whether it could (glibc
  only). Memory freed by the many small allocations of a weight load or an XLA compile otherwise stays in the
  process's resident set, under the buffers allocated after it (docs/cpu_bf16.md, "Memory")."""
  import ctypes  # pylint: disable=g-import-not-at-top

  try:
    ctypes.CDLL(None).malloc_trim(0)  # the process's own symbols, libc's among them
  except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
    return False
  return True


def compile_cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
  """Where `use_compile_cache` keeps compiled programs (see the module docstring); None when turned off."""
  environ = os.environ if environ is None else environ
  if COMPILE_CACHE_ENV in environ:
    value = environ[COMPILE_CACHE_ENV]
    return None if value.strip().lower() in _OFF else Path(value).expanduser()
  return user_dirs.cache_dir(environ) / 'jax'


def use_compile_cache(environ: Mapping[str, str] | None = None) -> Path | None:
  """Turns on JAX's persistent compilation cache in `compile_cache_dir()` for programs of any size and compile
  time (JAX's defaults skip programs compiled in under a second); returns the directory JAX uses, or None.

  Call it before the first compilation. A `jax_compilation_cache_dir` the user set is kept.
  """
  import jax  # pylint: disable=g-import-not-at-top

  if jax.config.jax_compilation_cache_dir:
    return Path(jax.config.jax_compilation_cache_dir)
  folder = compile_cache_dir(environ)
  if folder is None:
    return None
  jax.config.update('jax_compilation_cache_dir', str(folder))
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
  jax.config.update('jax_persistent_cache_min_entry_size_bytes', -1)
  return folder


def for_platform(module: 'nn.Module', backend: str | None = None) -> 'nn.Module':
  """`module` with the implementation of its parts chosen for `backend` (default: `jax.default_backend()`): an
  RRDBNet's dense blocks split their 128-input-channel convs on 'cpu' (`SplitConvDenseBlock`; XLA:CPU runs those on
  one core, benchmarks/thread_profile.py) and are the plain `ResidualDenseBlock` elsewhere. Other modules unchanged.
  """
  from esrgan_jax.models import rrdbnet, split_conv  # pylint: disable=g-import-not-at-top (tools start fast)

  if not isinstance(module, rrdbnet.RRDBNet):
    return module
  import jax  # pylint: disable=g-import-not-at-top

  on_cpu = (backend or jax.default_backend()) == 'cpu'
  return module.clone(dense_block=split_conv.SplitConvDenseBlock if on_cpu else rrdbnet.ResidualDenseBlock)
