"""Compiles the optional oneDNN convolution (onednn_conv.cc) into the user's cache folder.

`python -m esrgan_jax.cpu_kernels.build` builds it ahead of time; `esrgan_jax.cpu_kernels.onednn_conv` builds it on
first use otherwise. It needs a C++17 compiler (`$CXX`, default g++) and oneDNN's headers and library from PyPI
(`pip install "esrgan_jax[cpu-bf16]"`, i.e. onednn-devel and onednn). Nothing else in the package needs either.
The library lands in `$ESRGAN_JAX_CPU_KERNELS_DIR`, else `$XDG_CACHE_HOME/esrgan_jax/cpu_kernels` (default
~/.cache/...), named by a digest of the source, the compiler and the jax and oneDNN versions, so an upgrade rebuilds.
"""

import argparse
import dataclasses
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from esrgan_jax import user_dirs

SOURCE = Path(__file__).with_name('onednn_conv.cc')
DIR_ENV = 'ESRGAN_JAX_CPU_KERNELS_DIR'
INSTALL_HINT = 'pip install "esrgan_jax[cpu-bf16]" (onednn-devel)'


class Unavailable(RuntimeError):
  """The library is not built and cannot be: the message says what is missing and how to get it."""


@dataclasses.dataclass(frozen=True)
class Toolchain:
  """What the build uses: the compiler, the include folders of oneDNN and of XLA's FFI, the folder of libdnnl.so."""

  compiler: str
  onednn_include: Path
  onednn_lib: Path
  ffi_include: Path
  onednn_version: str


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
  """The folder of built libraries (see the module docstring)."""
  environ = os.environ if environ is None else environ
  if environ.get(DIR_ENV):
    return Path(environ[DIR_ENV]).expanduser()
  return user_dirs.cache_dir(environ) / 'cpu_kernels'


def _installed_file(distribution: str, suffix: str) -> Path | None:
  """The first file of a pip-installed `distribution` whose path ends with `suffix`, or None."""
  try:
    files = importlib.metadata.distribution(distribution).files or []
  except importlib.metadata.PackageNotFoundError:
    return None
  for file in files:
    if file.as_posix().endswith(suffix):
      return Path(file.locate()).resolve()
  return None


def onednn_library() -> Path | None:
  """libdnnl.so of the pip-installed `onednn`, or None."""
  return _installed_file('onednn', '/libdnnl.so')


def opencl_cpu_driver() -> Path | None:
  """libintelocl.so of the pip-installed `intel-opencl-rt` (the PyPI oneDNN runs its CPU engine through SYCL on
  Intel's OpenCL CPU driver; the ICD file that wheel ships points at a placeholder path), or None."""
  return _installed_file('intel-opencl-rt', '/libintelocl.so')


def find_toolchain() -> Toolchain:
  """The compiler and headers the build needs; raises `Unavailable` naming the first one missing."""
  compiler = shutil.which(os.environ.get('CXX') or 'g++')
  if compiler is None:
    raise Unavailable(f'no C++ compiler: {os.environ.get("CXX") or "g++"} is not on PATH (set $CXX)')
  header = _installed_file('onednn-devel', 'include/oneapi/dnnl/dnnl.hpp')
  library = onednn_library()
  if header is None or library is None:
    raise Unavailable(f'oneDNN headers or library not installed: {INSTALL_HINT}')
  import jax  # pylint: disable=g-import-not-at-top

  return Toolchain(
    compiler=compiler,
    onednn_include=header.parents[2],
    onednn_lib=library.parent,
    ffi_include=Path(jax.ffi.include_dir()),
    onednn_version=importlib.metadata.version('onednn'),
  )


def library_path(toolchain: Toolchain) -> Path:
  """Where the library built with `toolchain` lives in `cache_dir()`."""
  import jax  # pylint: disable=g-import-not-at-top

  digest = hashlib.sha256(SOURCE.read_bytes())
  digest.update(f'{toolchain.compiler} jax {jax.__version__} onednn {toolchain.onednn_version}'.encode())
  return cache_dir() / f'onednn_conv-{digest.hexdigest()[:16]}.so'


def compile_command(toolchain: Toolchain, output: Path) -> list[str]:
  """g++ command line: a shared library that finds libdnnl.so and its runtime libraries (TBB, SYCL) in the folder
  pip put them in (an RPATH, which unlike RUNPATH also serves libdnnl's own dependencies)."""
  return [
    toolchain.compiler,
    '-std=c++17',
    '-O2',
    '-shared',
    '-fPIC',
    '-w',  # the FFI headers warn under g++ 12
    f'-I{toolchain.onednn_include}',
    f'-I{toolchain.ffi_include}',
    str(SOURCE),
    f'-L{toolchain.onednn_lib}',
    '-ldnnl',
    f'-Wl,--disable-new-dtags,-rpath,{toolchain.onednn_lib}',
    '-o',
    str(output),
  ]


def build(toolchain: Toolchain | None = None) -> Path:
  """The built library, compiling it first (about 10 s) unless already in `cache_dir()`; raises `Unavailable`."""
  toolchain = toolchain or find_toolchain()
  path = library_path(toolchain)
  if path.exists():
    return path
  path.parent.mkdir(parents=True, exist_ok=True)
  with tempfile.TemporaryDirectory(dir=path.parent) as tmp:  # concurrent builds: each renames its own file
    output = Path(tmp) / path.name
    result = subprocess.run(compile_command(toolchain, output), capture_output=True, text=True, check=False)
    if result.returncode:
      raise Unavailable(f'compiling {SOURCE.name} failed:\n{result.stderr.strip()}')
    os.replace(output, path)
  return path


def main(argv: Sequence[str] | None = None) -> int:
  argparse.ArgumentParser(
    prog='python -m esrgan_jax.cpu_kernels.build', description=__doc__.split('\n\n')[0]
  ).parse_args(argv)
  try:
    print(build())
  except Unavailable as e:
    print(f'esrgan_jax.cpu_kernels.build: {e}', file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
