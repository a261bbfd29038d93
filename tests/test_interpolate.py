"""Tests for the esrgan_jax.interpolate tool: single alpha, sweeps, mismatch messages and exit codes."""

import dataclasses
import importlib

import jax
import numpy as np
import pytest
from helpers import random_params, tiny_generator

from esrgan_jax.models.srresnet import MSRResNet
from esrgan_jax.weights.model_io import load_generator, save_generator

# The tool module (`esrgan_jax.interpolate` as a package attribute could be shadowed by a function of that name).
interpolate_lib = importlib.import_module('esrgan_jax.interpolate')


@pytest.fixture(scope='module')
def generator_files(tmp_path_factory):
  """(psnr path, gan path, module, psnr params, gan params): a tiny x4 RRDBNet and a perturbed copy of it."""
  module, params_psnr = tiny_generator(4)
  rng = np.random.default_rng(1)
  params_gan = jax.tree.map(lambda p: p + rng.normal(0.0, 0.1, p.shape).astype(np.float32), params_psnr)
  folder = tmp_path_factory.mktemp('models')
  save_generator(folder / 'psnr.msgpack', module, params_psnr)
  save_generator(folder / 'gan.msgpack', module, params_gan)
  return folder / 'psnr.msgpack', folder / 'gan.msgpack', module, params_psnr, params_gan


def assert_trees_close(actual, expected, **tolerance):
  assert jax.tree.structure(actual) == jax.tree.structure(expected)
  for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected)):
    np.testing.assert_allclose(a, e, **tolerance)


def run_cli(psnr_path, gan_path, out, alphas) -> int:
  argv = ['--psnr', str(psnr_path), '--gan', str(gan_path), '--out', str(out)]
  return interpolate_lib.main(argv + [arg for alpha in alphas for arg in ('--alpha', alpha)])


def test_cli_single_alpha(generator_files, tmp_path, capsys):
  psnr_path, gan_path, module, params_psnr, params_gan = generator_files
  out = tmp_path / 'esrgan_08.msgpack'
  assert run_cli(psnr_path, gan_path, out, ['0.8']) == 0
  assert f'alpha 0.8: wrote {out}' in capsys.readouterr().out
  loaded_module, loaded = load_generator(out)
  assert loaded_module == module
  expected = jax.tree.map(lambda p, g: 0.2 * p + 0.8 * g, params_psnr, params_gan)
  assert_trees_close(loaded, expected, rtol=1e-5, atol=1e-7)


def test_cli_sweep(generator_files, tmp_path):
  psnr_path, gan_path, module, params_psnr, params_gan = generator_files
  assert run_cli(psnr_path, gan_path, tmp_path / 'sweep', ['0', '0.2', '0.4', '0.6', '0.8', '1']) == 0
  names = sorted(p.name for p in (tmp_path / 'sweep').iterdir())
  assert names == [f'interp_{i:02d}.msgpack' for i in (0, 2, 4, 6, 8, 10)]
  assert_trees_close(load_generator(tmp_path / 'sweep' / 'interp_00.msgpack')[1], params_psnr, rtol=0, atol=0)
  assert_trees_close(load_generator(tmp_path / 'sweep' / 'interp_10.msgpack')[1], params_gan, rtol=0, atol=0)
  expected = jax.tree.map(lambda p, g: 0.6 * p + 0.4 * g, params_psnr, params_gan)
  assert_trees_close(load_generator(tmp_path / 'sweep' / 'interp_04.msgpack')[1], expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
  'change, message',
  [
    ({'num_block': 2}, 'num_block 1 vs 2'),
    ({'res_scale': 0.5}, 'res_scale 0.2 vs 0.5'),  # same tree and shapes: only the config check can catch it
  ],
)
def test_cli_config_mismatch(generator_files, tmp_path, capsys, change, message):
  psnr_path, _, module, params, _ = generator_files
  other = {**params, 'body_1': params['body_0']} if 'num_block' in change else params
  save_generator(tmp_path / 'other.msgpack', dataclasses.replace(module, **change), other)
  assert run_cli(psnr_path, tmp_path / 'other.msgpack', tmp_path / 'out', ['0.8']) == 2
  err = capsys.readouterr().err
  assert 'describe different generators' in err and message in err and 'must share one architecture' in err
  assert not (tmp_path / 'out').exists()


def test_cli_arch_mismatch(generator_files, tmp_path, capsys):
  module = MSRResNet(num_feat=8, num_block=1)
  save_generator(tmp_path / 'srresnet.msgpack', module, random_params(module))
  assert run_cli(generator_files[0], tmp_path / 'srresnet.msgpack', tmp_path / 'out', ['0.8']) == 2
  assert "arch 'RRDBNet' vs 'MSRResNet'" in capsys.readouterr().err
  assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize(
  'alphas, out_name, message',
  [
    (['0.2', '0.8'], 'blend.msgpack', 'need a folder; drop the .msgpack suffix'),
    (['0.2', '0.2'], 'sweep', 'repeat an output name'),
  ],
)
def test_cli_bad_alphas_for_out(generator_files, tmp_path, capsys, alphas, out_name, message):
  assert run_cli(*generator_files[:2], tmp_path / out_name, alphas) == 2
  assert message in capsys.readouterr().err
  assert not (tmp_path / out_name).exists()


def test_cli_refuses_to_overwrite_an_input(generator_files, capsys):
  psnr_path, gan_path = generator_files[:2]
  before = psnr_path.read_bytes()
  assert run_cli(psnr_path, gan_path, psnr_path, ['0.8']) == 2
  assert 'would overwrite an input model' in capsys.readouterr().err
  assert psnr_path.read_bytes() == before


def test_cli_missing_model(generator_files, tmp_path, capsys):
  assert run_cli(tmp_path / 'missing.msgpack', generator_files[1], tmp_path / 'out.msgpack', ['0.8']) == 2
  assert f'No model file at {tmp_path / "missing.msgpack"}' in capsys.readouterr().err
