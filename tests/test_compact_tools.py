"""SRVGGNetCompact through the tools: upscale (a .pth read directly, Real-ESRGAN's denoise strength), evaluate,
interpolate, and both training stages."""

import jax
import numpy as np
import pytest
import tiny_config
from helpers import random_variables
from PIL import Image

from esrgan_jax import evaluate, interpolate, upscale
from esrgan_jax.configs import default
from esrgan_jax.data.image_io import read_image_raw
from esrgan_jax.models.srvgg import SRVGGNetCompact
from esrgan_jax.training import steps, train
from esrgan_jax.weights import generator_state_dicts, model_io, safetensors_io, torch_io

MODULE = SRVGGNetCompact(scale=2, num_feat=8, num_conv=2)


def _params(seed: int) -> dict:
  params = random_variables(MODULE, (1, 8, 8, 3), seed)['params']
  params['body_6']['bias'] = params['body_6']['bias'] * 0.1  # outputs near the input, so little is clipped
  return params


def _write_pth(path, params) -> None:
  torch_io.save_state_dict(path, {'params': generator_state_dicts.generator_to_torch(MODULE, params)})


def _expected(params, pixels) -> np.ndarray:
  out = MODULE.apply({'params': params}, pixels[None].astype(np.float32) / 255.0)[0]
  return np.floor(np.clip(np.asarray(out), 0, 1) * 255 + 0.5)


@pytest.fixture()
def photo(tmp_path):
  pixels = np.random.default_rng(0).integers(0, 256, (10, 12, 3)).astype(np.uint8)
  Image.fromarray(pixels).save(tmp_path / 'photo.png')
  return tmp_path / 'photo.png', pixels


@pytest.mark.parametrize('file_name', ['compact.pth', 'compact.safetensors'])
def test_upscale_reads_a_compact_state_dict_file(tmp_path, photo, file_name):
  params = _params(0)
  state = {'params': generator_state_dicts.generator_to_torch(MODULE, params)}
  save = safetensors_io.save_state_dict if file_name.endswith('.safetensors') else torch_io.save_state_dict
  save(tmp_path / file_name, state)
  assert upscale.main(['-i', str(photo[0]), '-o', str(tmp_path / 'out'), '--model', str(tmp_path / file_name)]) == 0
  out, _ = read_image_raw(tmp_path / 'out' / 'photo_out.png')
  np.testing.assert_allclose(out, _expected(params, photo[1]), atol=1)


@pytest.mark.parametrize('strength', [0.3, 1.0])
def test_denoise_strength_blends_general_and_wdn_like_real_esrgan(tmp_path, photo, strength):
  """Real-ESRGAN's dni: strength * realesr-general-x4v3 + (1 - strength) * realesr-general-wdn-x4v3."""
  general, wdn = _params(1), _params(2)
  _write_pth(tmp_path / 'general.pth', general)
  model_io.save_generator(tmp_path / 'wdn.msgpack', MODULE, wdn)
  args = ['-i', str(photo[0]), '-o', str(tmp_path / 'out'), '--model', str(tmp_path / 'general.pth')]
  assert upscale.main([*args, '--wdn-model', str(tmp_path / 'wdn.msgpack'), '--denoise-strength', str(strength)]) == 0
  blended = jax.tree.map(lambda g, w: strength * g + (1 - strength) * w, general, wdn)
  out, _ = read_image_raw(tmp_path / 'out' / 'photo_out.png')
  np.testing.assert_allclose(out, _expected(blended, photo[1]), atol=1)


def test_denoise_strength_needs_both_models(tmp_path, photo, capsys):
  with pytest.raises(SystemExit):
    upscale.main(['-i', str(photo[0]), '-o', str(tmp_path), '--model', 'g.pth', '--denoise-strength', '0.5'])
  assert '--denoise-strength and --wdn-model go together' in capsys.readouterr().err


def test_denoise_models_must_match(tmp_path, photo, capsys):
  _write_pth(tmp_path / 'general.pth', _params(1))
  other = SRVGGNetCompact(scale=2, num_feat=8, num_conv=1)
  model_io.save_generator(tmp_path / 'wdn.msgpack', other, random_variables(other, (1, 8, 8, 3))['params'])
  args = ['-i', str(photo[0]), '-o', str(tmp_path / 'out'), '--model', str(tmp_path / 'general.pth')]
  assert upscale.main([*args, '--wdn-model', str(tmp_path / 'wdn.msgpack'), '--denoise-strength', '0.5']) == 2
  assert 'describe different generators (num_conv 2 vs 1)' in capsys.readouterr().err


def test_evaluate_and_interpolate_compact_models(tmp_path, capsys):
  (tmp_path / 'set').mkdir()
  for seed in (0, 1):
    pixels = np.random.default_rng(seed).integers(0, 256, (16, 20, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / 'set' / f'{seed}.png')
  _write_pth(tmp_path / 'a.pth', _params(0))
  assert evaluate.main([str(tmp_path / 'set'), '--model', str(tmp_path / 'a.pth'), '--metrics', 'psnr,ssim']) == 0
  assert 'scale 2' in capsys.readouterr().out
  model_io.save_generator(tmp_path / 'a.msgpack', MODULE, _params(0))
  model_io.save_generator(tmp_path / 'b.msgpack', MODULE, _params(1))
  argv = ['--psnr', tmp_path / 'a.msgpack', '--gan', tmp_path / 'b.msgpack', '--alpha', '0.5']
  assert interpolate.main([*map(str, argv), '--out', str(tmp_path / 'mid.msgpack')]) == 0
  module, params = model_io.load_generator(tmp_path / 'mid.msgpack')
  assert module == MODULE
  slopes = [p['body_1']['negative_slope'] for p in (_params(0), _params(1))]
  np.testing.assert_allclose(params['body_1']['negative_slope'], (slopes[0] + slopes[1]) / 2, rtol=1e-6)


def test_both_training_stages_take_a_compact_generator(tmp_path):
  """The PSNR stage trains and exports it; the GAN stage starts from that export (its step is arch-agnostic)."""
  config = tiny_config.get_config()
  config.model = default.compact_model(num_feat=8, num_conv=2)
  config.stages, config.psnr.num_steps = ('psnr',), 2
  assert np.isfinite(train.train_and_evaluate(config, str(tmp_path))['psnr']['val_psnr'])
  module, params = model_io.load_generator(tmp_path / 'psnr' / train.GENERATOR_FILE)
  assert module == SRVGGNetCompact(scale=4, num_feat=8, num_conv=2)
  variables = train.load_pretrained_generator(config, tmp_path)
  sample_lr = jax.ShapeDtypeStruct((1, 32, 32, 3), np.float32)
  state = jax.eval_shape(lambda x: steps.init_state(config, 'gan', x, generator_variables=variables), sample_lr)
  assert jax.tree.map(lambda x: x.shape, state.g_params) == jax.tree.map(np.shape, params)
