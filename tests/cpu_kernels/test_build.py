import subprocess
import sys
from pathlib import Path

import pytest

from esrgan_jax.cpu_kernels import build


def test_cache_dir_follows_its_variable_then_xdg():
  assert build.cache_dir({build.DIR_ENV: '/k', 'XDG_CACHE_HOME': '/c'}) == Path('/k')
  assert build.cache_dir({'XDG_CACHE_HOME': '/c'}) == Path('/c/esrgan_jax/cpu_kernels')
  assert build.cache_dir({}) == Path('~/.cache/esrgan_jax/cpu_kernels').expanduser()


def test_a_missing_compiler_is_named(monkeypatch):
  monkeypatch.setenv('CXX', 'no-such-compiler++')
  with pytest.raises(build.Unavailable, match=r'no C\+\+ compiler: no-such-compiler\+\+ is not on PATH'):
    build.find_toolchain()


def test_builds_once_into_the_cache_folder(monkeypatch, tmp_path):
  try:
    toolchain = build.find_toolchain()
  except build.Unavailable as e:
    pytest.skip(f'oneDNN conv library cannot be built here: {e}')
  monkeypatch.setenv(build.DIR_ENV, str(tmp_path))
  built = subprocess.run(
    [sys.executable, '-m', 'esrgan_jax.cpu_kernels.build'], capture_output=True, text=True, check=True, timeout=600
  )
  path = Path(built.stdout.strip())
  assert path == build.library_path(toolchain) and path.parent == tmp_path and path.stat().st_size > 0
  built_at = path.stat().st_mtime_ns
  assert build.build(toolchain) == path and path.stat().st_mtime_ns == built_at
  assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary folder left
