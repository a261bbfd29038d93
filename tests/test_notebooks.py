"""Runs notebooks/interpolation.ipynb with nbclient on two tiny generators; checks the committed copy is executed."""

import math
import re
from pathlib import Path

import jax
import nbformat
import numpy as np
import pytest
from helpers import tiny_generator
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from esrgan_jax.weights.model_io import save_generator

INTERPOLATION_NOTEBOOK = Path(__file__).resolve().parent.parent / 'notebooks' / 'interpolation.ipynb'
SWEEP_ROWS = ['bicubic'] + [f'alpha {alpha:.1f}' for alpha in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)]


def execute(path: Path) -> nbformat.NotebookNode:
  """The notebook at `path` after running all cells in a fresh kernel started in its folder."""
  notebook = nbformat.read(path, as_version=4)
  NotebookClient(
    notebook,
    timeout=300,
    kernel_name='python3',
    record_timing=False,
    resources={'metadata': {'path': str(path.parent)}},
  ).execute()
  return notebook


def stdout_of(notebook: nbformat.NotebookNode) -> str:
  return ''.join(
    output.get('text', '')
    for cell in notebook.cells
    if cell.cell_type == 'code'
    for output in cell.outputs
    if output.output_type == 'stream' and output.name == 'stdout'
  )


LIBRARY_BANNER = re.compile(
  r'oneDNN|cpu_feature_guard|absl::InitializeLog|TensorFlow binary|^[IWEF]\d{4} ', re.MULTILINE
)


def library_banners(notebook: nbformat.NotebookNode) -> list[str]:
  """Output texts of `notebook` with a library's log banner (TensorFlow's oneDNN and CPU-feature notes, absl C++
  logging): nothing a reader of the notebook asked for."""
  texts = [
    output.get('text', '')
    for cell in notebook.cells
    if cell.cell_type == 'code'
    for output in cell.outputs
    if output.output_type == 'stream'
  ]
  return [text for text in texts if LIBRARY_BANNER.search(text)]


def sweep_table(text: str) -> dict[str, tuple[float, float]]:
  """{row name: (Y-PSNR, NIQE)} parsed from the sweep table the notebook prints."""
  lines = text.splitlines()
  header = next(i for i, line in enumerate(lines) if 'Y-PSNR (dB)' in line)
  rows = [line.rsplit(maxsplit=3) for line in lines[header + 1 : header + 1 + len(SWEEP_ROWS)]]
  return {name.strip(): (float(psnr), float(niqe)) for name, psnr, _, niqe in rows}


@pytest.fixture
def tiny_models(tmp_path, monkeypatch):
  """Points ESRGAN_PSNR_MODEL / ESRGAN_GAN_MODEL at a tiny x4 RRDBNet and a perturbed copy of it."""
  module, params_psnr = tiny_generator(4)
  rng = np.random.default_rng(1)
  params_gan = jax.tree.map(lambda p: p + rng.normal(0.0, 0.05, p.shape).astype(np.float32), params_psnr)
  save_generator(tmp_path / 'psnr.msgpack', module, params_psnr)
  save_generator(tmp_path / 'gan.msgpack', module, params_gan)
  monkeypatch.setenv('ESRGAN_PSNR_MODEL', str(tmp_path / 'psnr.msgpack'))
  monkeypatch.setenv('ESRGAN_GAN_MODEL', str(tmp_path / 'gan.msgpack'))


def test_interpolation_notebook_runs(tiny_models):
  notebook = execute(INTERPOLATION_NOTEBOOK)
  table = sweep_table(stdout_of(notebook))
  assert list(table) == SWEEP_ROWS
  assert all(math.isfinite(psnr) and 0 < psnr < 100 and 0 < niqe < 100 for psnr, niqe in table.values())
  assert table['alpha 0.0'] != table['alpha 1.0']  # the two tiny models differ, so the blends do
  images = [
    output
    for cell in notebook.cells
    if cell.cell_type == 'code'
    for output in cell.outputs
    if 'image/png' in output.get('data', {})
  ]
  assert len(images) == 2  # the PSNR-NIQE curve and the crops
  assert not library_banners(notebook)


def test_interpolation_notebook_explains_missing_models(tmp_path, monkeypatch):
  monkeypatch.setenv('ESRGAN_PSNR_MODEL', str(tmp_path / 'missing.msgpack'))
  with pytest.raises(CellExecutionError, match='python -m esrgan_jax.main --config configs/demo.py'):
    execute(INTERPOLATION_NOTEBOOK)


def test_committed_interpolation_notebook_is_executed():
  notebook = nbformat.read(INTERPOLATION_NOTEBOOK, as_version=4)
  code_cells = [cell for cell in notebook.cells if cell.cell_type == 'code']
  assert all(cell.execution_count is not None for cell in code_cells)
  assert list(sweep_table(stdout_of(notebook))) == SWEEP_ROWS
  assert not [output for cell in code_cells for output in cell.outputs if output.output_type == 'error']


def test_committed_interpolation_notebook_has_no_library_banners():
  assert not library_banners(nbformat.read(INTERPOLATION_NOTEBOOK, as_version=4))
