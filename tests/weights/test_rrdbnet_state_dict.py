"""Every RRDBNet variant in the wild against a torch reference built in its own key scheme: the numbered Sequential
scheme at x1-x16, ESRGAN+, pixel-unshuffle in old names, BSRGAN/RealSR names without pixel-unshuffle, BasicSR x8,
1- and 4-channel models; and the families we recognise but do not run."""

import re

import numpy as np
import pytest

from esrgan_jax import convert
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.weights import families, generator_state_dicts, model_io, torch_io

torch = pytest.importorskip('torch')
from helpers import assert_close, assert_trees_equal, images, random_variables, run_convert, seeded, torch_apply
from torch_archs import TorchRRDBNet, TorchSequentialRRDBNet  # noqa: E402  (needs torch)

TINY = dict(num_feat=8, num_block=1, num_grow_ch=4)
# BasicSR names -> ESRGAN 2019 / BSRGAN / RealSR names, from the reference table.
ESRGAN_NAMES = [
  (r'^body\.(\d+)\.rdb', r'RRDB_trunk.\1.RDB'),
  (r'^conv_body\.', 'trunk_conv.'),
  (r'^conv_up(\d)\.', r'upconv\1.'),
  (r'^conv_hr\.', 'HRconv.'),
]


def _saved_and_loaded(tmp_path, state: dict) -> dict:
  """`state` written by torch.save and read back by our torch-free reader."""
  torch.save(state, tmp_path / 'g.pth')
  return torch_io.load_state_dict(tmp_path / 'g.pth')


def _randomised(net):
  """`net` with every parameter drawn from N(0, 0.1) (bias-free 1x1 convs too), so no path is near zero."""
  with torch.no_grad():
    for value in net.parameters():
      value.normal_(0.0, 0.1)
  return net


def _check_parity(tmp_path, net, state: dict, size: int, expected: dict) -> RRDBNet:
  scheme, module, params = generator_state_dicts.generator_from_torch_with_scheme(
    _saved_and_loaded(tmp_path, state), None
  )
  assert {field: getattr(module, field) for field in expected} == expected, scheme
  x = images((1, size, size, module.num_in_ch))
  assert_close(module.apply({'params': params}, x), torch_apply(net, x))
  return module


@pytest.mark.parametrize('num_upsample', [0, 1, 2, 3, 4], ids=['x1', 'x2', 'x4', 'x8', 'x16'])
def test_numbered_scheme_at_every_scale(tmp_path, num_upsample):
  net = _randomised(seeded(0, TorchSequentialRRDBNet, num_upsample=num_upsample, **TINY))
  state = net.state_dict()
  assert f'model.{3 * num_upsample + 4}.weight' in state  # the reference really numbers conv_last like this
  module = _check_parity(tmp_path, net, state, 6, dict(scale=2**num_upsample, upsample_stages=num_upsample))
  assert module.num_upsample == (None if num_upsample >= 2 else num_upsample)


@pytest.mark.parametrize('unshuffle', [2, 4])
def test_numbered_scheme_with_pixel_unshuffle(tmp_path, unshuffle):
  net = _randomised(seeded(1, TorchSequentialRRDBNet, unshuffle=unshuffle, **TINY))
  _check_parity(tmp_path, net, net.state_dict(), 8, dict(scale=4 // unshuffle, num_in_ch=3, num_upsample=None))


def test_esrgan_plus(tmp_path):
  net = _randomised(seeded(2, TorchSequentialRRDBNet, plus=True, num_feat=8, num_block=2, num_grow_ch=4))
  assert 'model.1.sub.1.RDB3.conv1x1.weight' in net.state_dict()
  module = _check_parity(tmp_path, net, net.state_dict(), 6, dict(esrgan_plus=True, num_block=2, scale=4))
  assert 'ESRGAN+' in generator_state_dicts.describe_generator(module)


def test_esrgan_plus_goes_back_to_its_numbered_scheme(tmp_path, capsys):
  """spandrel finds ESRGAN+ by model.0 and RDB conv1x1 keys only, so to-pth writes that scheme."""
  module = RRDBNet(esrgan_plus=True, num_upsample=3, scale=8, **TINY)
  params = random_variables(module, (1, 8, 8, 3))['params']
  model_io.save_generator(tmp_path / 'plus.msgpack', module, params)
  run_convert('to-pth', tmp_path / 'plus.msgpack', tmp_path / 'plus.pth')
  assert 'ESRGAN-old key names' in capsys.readouterr().out
  net = TorchSequentialRRDBNet(plus=True, num_upsample=3, **TINY).eval()
  net.load_state_dict(torch.load(tmp_path / 'plus.pth', weights_only=True)['params_ema'], strict=True)
  x = images((1, 5, 5, 3))
  assert_close(module.apply({'params': params}, x), torch_apply(net, x))
  run_convert('generator', tmp_path / 'plus.pth', tmp_path / 'back.msgpack')
  back_module, back_params = model_io.load_generator(tmp_path / 'back.msgpack')
  assert back_module == module.clone(num_upsample=None)  # 3 stages is the default at x8
  assert_trees_equal(back_params, params)


@pytest.mark.parametrize(('num_upsample', 'names'), [(1, 'ESRGAN'), (3, 'BasicSR')], ids=['bsrgan-x2', 'basicsr-x8'])
def test_named_schemes_with_other_upsampling_counts(tmp_path, num_upsample, names):
  """BSRGAN x2 has upconv1 only and no pixel-unshuffle; x8 models add conv_up3."""
  net = _randomised(seeded(3, TorchRRDBNet, scale=2**num_upsample, num_upsample=num_upsample, **TINY))
  state = dict(net.state_dict())
  for pattern, replacement in ESRGAN_NAMES if names == 'ESRGAN' else []:
    state = {re.sub(pattern, replacement, key): value for key, value in state.items()}
  _check_parity(tmp_path, net, state, 6, dict(scale=2**num_upsample, upsample_stages=num_upsample))


@pytest.mark.parametrize('channels', [1, 4])
def test_gray_and_rgba_models(tmp_path, channels):
  net = _randomised(seeded(4, TorchSequentialRRDBNet, num_in_ch=channels, num_out_ch=channels, **TINY))
  _check_parity(tmp_path, net, net.state_dict(), 6, dict(num_in_ch=channels, num_out_ch=channels, scale=4))


@pytest.mark.parametrize('num_upsample', [0, 3])
def test_other_scales_round_trip_in_basicsr_names(tmp_path, num_upsample):
  module = RRDBNet(scale=2**num_upsample, num_upsample=num_upsample, **TINY)
  params = random_variables(module, (1, 8, 8, 3))['params']
  net = TorchRRDBNet(scale=2**num_upsample, num_upsample=num_upsample, **TINY).eval()
  net.load_state_dict(
    {k: torch.from_numpy(v) for k, v in generator_state_dicts.generator_to_torch(module, params).items()}
  )
  x = images((1, 5, 5, 3))
  assert_close(module.apply({'params': params}, x), torch_apply(net, x))


def test_files_written_before_num_upsample_still_load(tmp_path):
  module = RRDBNet(scale=2, **TINY)
  params = random_variables(module, (1, 8, 8, 3))['params']
  new_fields = ('num_upsample', 'esrgan_plus')
  old_config = {f: getattr(module, f) for f in model_io.generator_fields(RRDBNet) if f not in new_fields}
  model_io.save_model(tmp_path / 'old.msgpack', 'RRDBNet', old_config, {'params': params})
  loaded, _ = model_io.load_generator(tmp_path / 'old.msgpack')
  assert loaded == module and loaded.upsample_stages == 2


def _arrays(*keys: str) -> dict:
  return {key: np.zeros((2, 2, 3, 3), np.float32) for key in keys}


@pytest.mark.parametrize('family', sorted(families.UNSUPPORTED_FAMILIES))
def test_recognised_families_we_cannot_run_are_named(family):
  state = _arrays(*families.UNSUPPORTED_FAMILIES[family], 'some.other.weight')
  with pytest.raises(ValueError, match=rf'This is a {re.escape(family)} model, .* cannot run\. Supported generator'):
    generator_state_dicts.generator_from_torch({'params_ema': state})


def test_unknown_architecture_names_some_keys_and_the_families(tmp_path, capsys):
  state = _arrays(*(f'encoder.{i}.weight' for i in range(10)))
  torch_io.save_state_dict(tmp_path / 'unknown.pth', state)
  assert convert.main(['generator', str(tmp_path / 'unknown.pth'), str(tmp_path / 'out.msgpack')]) == 2
  error = capsys.readouterr().err
  assert re.search(r'Unknown architecture: no generator family fits the keys encoder\.0\.weight, .*\(10 keys\)', error)
  assert 'RRDBNet' in error and 'MSRResNet' in error and 'SRVGGNetCompact' in error
  assert not (tmp_path / 'out.msgpack').exists()
