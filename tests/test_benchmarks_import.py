"""Every benchmark script imports (its imports of esrgan_jax name things that exist), so a move in the library
cannot silently break `benchmarks/run_all.py`; the accelerator script's run is tests/test_benchmarks_accelerator.py."""

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / 'benchmarks'


@pytest.mark.parametrize('name', sorted(p.stem for p in BENCHMARKS.glob('*.py')))
def test_benchmark_script_imports(name, monkeypatch):
  monkeypatch.syspath_prepend(str(BENCHMARKS))
  monkeypatch.delitem(sys.modules, name, raising=False)
  module = importlib.import_module(name)
  assert module.__doc__, f'benchmarks/{name}.py has no docstring saying what it measures'
