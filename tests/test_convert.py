"""Tests for esrgan_jax.convert: official PyTorch weights -> Flax (every key scheme, both .pth formats) and back."""

import os
import pickle
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import jax
import numpy as np
import pytest

from esrgan_jax import convert
from esrgan_jax.models.discriminator import VGGStyleDiscriminator
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.models.srresnet import MSRResNet
from esrgan_jax.models.vgg import VGG19Features
from esrgan_jax.weights import (
  discriminator_state_dict,
  generator_state_dicts,
  model_io,
  perceptual,
  safetensors_io,
  torch_io,
)

torch = pytest.importorskip('torch')
from helpers import (
  assert_close,
  assert_trees_equal,
  images,
  random_params,
  random_variables,
  randomise_batch_norms,
  run_convert,
  seeded,
  torch_apply,
)
from torch_archs import TorchMSRResNet, TorchRRDBNet, TorchVGGStyleDiscriminator, torch_vgg19_features  # noqa: E402  (needs torch)

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY = dict(num_feat=8, num_block=2, num_grow_ch=4)
FORMATS = pytest.mark.parametrize('zip_format', [True, False], ids=['zip', 'legacy'])
# BasicSR key -> the other official schemes, written from the reference tables (not from convert.py's table).
ESRGAN_2019_RULES = [
  (r'^body\.(\d+)\.rdb', r'RRDB_trunk.\1.RDB'),
  (r'^conv_body\.', 'trunk_conv.'),
  (r'^conv_up(\d)\.', r'upconv\1.'),
  (r'^conv_hr\.', 'HRconv.'),
]
ESRGAN_OLD_RULES = [
  (r'^conv_first\.', 'model.0.'),
  (r'^body\.(\d+)\.rdb(\d)\.conv(\d)\.', r'model.1.sub.\1.RDB\2.conv\3.0.'),
  (r'^conv_body\.', 'model.1.sub.{num_block}.'),
  (r'^conv_up1\.', 'model.3.'),
  (r'^conv_up2\.', 'model.6.'),
  (r'^conv_hr\.', 'model.8.'),
  (r'^conv_last\.', 'model.10.'),
]


def official_keys(state: dict, scheme: str, num_block: int) -> dict:
  """Renames a BasicSR generator state dict to `scheme` ('BasicSR', 'ESRGAN' or 'ESRGAN-old')."""
  rules = {'BasicSR': [], 'ESRGAN': ESRGAN_2019_RULES, 'ESRGAN-old': ESRGAN_OLD_RULES}[scheme]
  renamed = {}
  for key, value in state.items():
    for pattern, replacement in rules:
      key = re.sub(pattern, replacement.replace('{num_block}', str(num_block)), key)
    renamed[key] = value
  return renamed


@pytest.mark.parametrize('scale', [4, 2, 1])
@pytest.mark.parametrize('scheme', ['BasicSR', 'ESRGAN', 'ESRGAN-old'])
@FORMATS
def test_generator_parity_in_every_scheme_and_format(tmp_path, scheme, zip_format, scale):
  net = seeded(scale, TorchRRDBNet, scale=scale, **TINY)
  torch.save(
    official_keys(net.state_dict(), scheme, TINY['num_block']),
    tmp_path / 'g.pth',
    _use_new_zipfile_serialization=zip_format,
  )
  module, params = generator_state_dicts.generator_from_torch(torch_io.load_state_dict(tmp_path / 'g.pth'))
  assert (module.scale, module.num_block, module.num_feat, module.num_grow_ch) == (scale, 2, 8, 4)
  x = images((1, 8, 12, 3))
  assert_close(module.apply({'params': params}, x), torch_apply(net, x))


@pytest.mark.parametrize('via_cli', [False, True], ids=['library', 'cli'])
def test_wrapped_checkpoint_prefers_params_ema_and_strips_module(tmp_path, via_cli):
  nets = {key: seeded(seed, TorchRRDBNet, **TINY) for seed, key in enumerate(('params', 'params_ema'))}
  state = {
    'params': nets['params'].state_dict(),
    'params_ema': {f'module.{k}': v for k, v in nets['params_ema'].state_dict().items()},
  }
  torch.save(state, tmp_path / 'g.pth')
  x = images((1, 8, 8, 3))
  for params_key, expected in ((None, 'params_ema'), ('params', 'params'), ('params_ema', 'params_ema')):
    if via_cli:
      flags = ('--params-key', params_key) if params_key else ()
      run_convert('generator', tmp_path / 'g.pth', tmp_path / 'g.msgpack', *flags)
      module, params = model_io.load_generator(tmp_path / 'g.msgpack')
    else:
      module, params = generator_state_dicts.generator_from_torch(
        torch_io.load_state_dict(tmp_path / 'g.pth'), params_key
      )
    assert_close(module.apply({'params': params}, x), torch_apply(nets[expected], x))


def test_plain_state_dict_with_module_prefix(tmp_path):
  net = seeded(0, TorchRRDBNet, **TINY)
  torch.save(
    {f'module.{k}': v for k, v in net.state_dict().items()}, tmp_path / 'g.pth', _use_new_zipfile_serialization=False
  )
  module, params = generator_state_dicts.generator_from_torch(torch_io.load_state_dict(tmp_path / 'g.pth'))
  x = images((1, 8, 8, 3))
  assert_close(module.apply({'params': params}, x), torch_apply(net, x))


def test_channels_are_inferred_when_input_and_output_differ(tmp_path):
  net = seeded(0, TorchRRDBNet, num_in_ch=1, num_out_ch=3, **TINY)
  module, params = generator_state_dicts.generator_from_torch({k: v.numpy() for k, v in net.state_dict().items()})
  assert (module.num_in_ch, module.num_out_ch, module.scale) == (1, 3, 4)
  x = images((1, 8, 8, 1))
  assert_close(module.apply({'params': params}, x), torch_apply(net, x))


def test_full_width_generator_in_the_official_files_layouts(tmp_path, capsys):
  """23 blocks, nf 64: old scheme and ESRGAN 2019 scheme in legacy files, BasicSR wrapped in a zip file."""
  net = seeded(0, TorchRRDBNet)
  state = net.state_dict()
  files = {
    'RRDB_ESRGAN_x4_old_arch.pth': (official_keys(state, 'ESRGAN-old', 23), False),
    'RRDB_ESRGAN_x4.pth': (official_keys(state, 'ESRGAN', 23), False),
    'ESRGAN_SRx4_DF2KOST_official.pth': ({'params': state, 'params_ema': state}, True),
  }
  converted = []
  for name, (contents, zip_format) in files.items():
    torch.save(contents, tmp_path / name, _use_new_zipfile_serialization=zip_format)
    run_convert('generator', tmp_path / name, tmp_path / 'g.msgpack')
    converted.append(model_io.load_generator(tmp_path / 'g.msgpack'))
  printed = capsys.readouterr().out
  for scheme in ('ESRGAN-old', 'ESRGAN', 'BasicSR'):
    assert f'{scheme} key names -> RRDBNet(scale 4, 23 blocks, num_feat 64, num_grow_ch 32' in printed
  assert printed.count('16,697,987 params') == 3
  module, params = converted[0]
  assert module == RRDBNet()
  for other_module, other_params in converted[1:]:
    assert other_module == module
    assert_trees_equal(other_params, params)
  x = images((1, 8, 8, 3))
  assert_close(module.apply({'params': params}, x), torch_apply(net, x))


@pytest.mark.parametrize('input_size, num_feat, zip_format', [(128, 16, True), (256, 8, False)])
def test_discriminator_parity_eval_and_train(tmp_path, input_size, num_feat, zip_format):
  net = seeded(0, TorchVGGStyleDiscriminator, num_feat=num_feat, input_size=input_size)
  randomise_batch_norms(net)
  torch.save({'params': net.state_dict()}, tmp_path / 'd.pth', _use_new_zipfile_serialization=zip_format)
  run_convert('discriminator', tmp_path / 'd.pth', tmp_path / 'd.msgpack')
  arch, config, variables = model_io.load_model(tmp_path / 'd.msgpack')
  module = VGGStyleDiscriminator(**config)
  assert arch == 'VGGStyleDiscriminator' and (module.input_size, module.num_feat) == (input_size, num_feat)
  x = images((2, input_size, input_size, 3))
  assert_close(module.apply(variables, x, train=False), torch_apply(net, x))  # Running statistics.
  logits, updates = module.apply(variables, x, train=True, mutable=['batch_stats'])
  assert_close(logits, torch_apply(net.train(), x))  # Batch statistics; the torch call updates its running stats.
  np.testing.assert_allclose(updates['batch_stats']['bn1_1']['mean'], net.bn1_1.running_mean.numpy(), atol=1e-5)


@pytest.fixture(scope='module')
def vgg19_pth(tmp_path_factory) -> tuple[Path, torch.nn.Sequential]:
  """torchvision-layout vgg19 .pth with He-initialised weights (so conv5_4 is not vanishingly small)."""
  features = seeded(0, torch_vgg19_features)
  for conv in (m for m in features if isinstance(m, torch.nn.Conv2d)):
    torch.nn.init.kaiming_normal_(conv.weight, nonlinearity='relu')
    torch.nn.init.uniform_(conv.bias, -0.1, 0.1)
  state = {f'features.{k}': v for k, v in features.state_dict().items()}
  state.update({'classifier.0.weight': torch.randn(10, 20), 'classifier.0.bias': torch.randn(10)})
  path = tmp_path_factory.mktemp('vgg') / 'vgg19-dcbb9e9d.pth'
  torch.save(state, path)
  return path, features


def test_vgg19_parity(tmp_path, vgg19_pth):
  path, features = vgg19_pth
  run_convert('vgg19', path, tmp_path / 'vgg19.msgpack')
  params = perceptual.load_params('vgg19', tmp_path / 'vgg19.msgpack')
  x = images((2, 32, 32, 3))
  out = VGG19Features(layers=('relu3_2', 'conv5_4')).apply({'params': params}, x)
  normalised = (x - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
  assert_close(out['relu3_2'], torch_apply(features[:14], normalised))  # features.13 = relu3_2
  assert_close(out['conv5_4'], torch_apply(features[:35], normalised))  # features.34 = conv5_4, before its ReLU


def test_missing_vgg19_file_names_the_command_that_makes_it(tmp_path, monkeypatch, vgg19_pth):
  monkeypatch.setenv('ESRGAN_JAX_WEIGHTS', str(tmp_path / 'weights'))  # the documented rule: flag > env > default dir
  default = tmp_path / 'weights' / 'vgg19.msgpack'
  with pytest.raises(FileNotFoundError, match='python -m esrgan_jax.convert vgg19') as error:
    perceptual.load_params('vgg19')
  command = str(error.value).split('python -m esrgan_jax.convert ')[1].split()
  assert command == ['vgg19', 'vgg19-dcbb9e9d.pth', str(default)]
  run_convert(command[0], vgg19_pth[0], *command[2:])  # Exactly the named command, on the user's downloaded file.
  run_convert(command[0], vgg19_pth[0])  # The output defaults to where training looks.
  assert jax.tree.structure(perceptual.load_params('vgg19')) == jax.tree.structure(
    perceptual.load_params('vgg19', default)
  )


def test_generator_round_trip_through_pth(tmp_path):
  module = RRDBNet(scale=2, **TINY)
  params = random_variables(module, (1, 8, 8, 3))['params']
  model_io.save_generator(tmp_path / 'ours.msgpack', module, params)
  run_convert('to-pth', tmp_path / 'ours.msgpack', tmp_path / 'ours.pth')
  exported = torch.load(tmp_path / 'ours.pth', weights_only=True)
  assert list(exported) == ['params', 'params_ema']
  net = TorchRRDBNet(scale=2, **TINY).eval()
  net.load_state_dict(exported['params_ema'], strict=True)
  x = images((1, 8, 8, 3))
  assert_close(module.apply({'params': params}, x), torch_apply(net, x))
  run_convert('generator', tmp_path / 'ours.pth', tmp_path / 'back.msgpack')
  back_module, back_params = model_io.load_generator(tmp_path / 'back.msgpack')
  assert back_module == module
  assert_trees_equal(back_params, params)
  run_convert('to-pth', tmp_path / 'ours.msgpack', tmp_path / 'params_only.pth', '--key', 'params')
  assert list(torch.load(tmp_path / 'params_only.pth', weights_only=True)) == ['params']


@pytest.mark.parametrize(
  'module, torch_net',
  [
    (RRDBNet(scale=2, **TINY), lambda: TorchRRDBNet(scale=2, **TINY)),
    (MSRResNet(scale=3, num_feat=8, num_block=2), lambda: TorchMSRResNet(upscale=3, num_feat=8, num_block=2)),
  ],
  ids=['rrdbnet', 'msrresnet'],
)
def test_generator_round_trip_through_safetensors(tmp_path, capsys, module, torch_net):
  """Our file loads with safetensors.torch into the torch reference net (as spandrel/chaiNNer load it), and back."""
  from safetensors.torch import load_file  # pylint: disable=g-import-not-at-top

  params = random_variables(module, (1, 8, 8, 3))['params']
  model_io.save_generator(tmp_path / 'ours.msgpack', module, params)
  run_convert('to-safetensors', tmp_path / 'ours.msgpack', tmp_path / 'ours.safetensors')
  written = (
    f'{generator_state_dicts.describe_generator(module)} -> {generator_state_dicts.torch_scheme(module)} key names'
  )
  assert written in capsys.readouterr().out
  net = torch_net().eval()
  net.load_state_dict(load_file(tmp_path / 'ours.safetensors'), strict=True)
  x = images((1, 6, 8, 3))
  assert_close(module.apply({'params': params}, x), torch_apply(net, x))
  run_convert('generator', tmp_path / 'ours.safetensors', tmp_path / 'back.msgpack')
  back_module, back_params = model_io.load_generator(tmp_path / 'back.msgpack')
  assert back_module == module
  assert_trees_equal(back_params, params)


def test_safetensors_checkpoint_from_torch_with_params_prefixes(tmp_path):
  """A flattened BasicSR checkpoint (`params.`/`params_ema.` keys, any suffix) converts like the .pth would."""
  from safetensors.torch import save_file  # pylint: disable=g-import-not-at-top

  nets = {key: seeded(seed, TorchRRDBNet, scale=1, **TINY) for seed, key in enumerate(('params', 'params_ema'))}
  save_file(
    {f'{key}.{name}': tensor for key, net in nets.items() for name, tensor in net.state_dict().items()},
    tmp_path / 'g.bin',
  )
  x = images((1, 8, 8, 3))
  for flags, expected in (((), 'params_ema'), (('--params-key', 'params'), 'params')):
    run_convert('generator', tmp_path / 'g.bin', tmp_path / 'g.msgpack', *flags)
    module, params = model_io.load_generator(tmp_path / 'g.msgpack')
    assert module.scale == 1
    assert_close(module.apply({'params': params}, x), torch_apply(nets[expected], x))


def test_discriminator_round_trip_through_safetensors(tmp_path):
  module = VGGStyleDiscriminator(num_feat=8)
  variables = random_variables(module, (1, 128, 128, 3))
  model_io.save_model(tmp_path / 'd.msgpack', 'VGGStyleDiscriminator', dict(num_feat=8), variables)
  run_convert('to-safetensors', tmp_path / 'd.msgpack', tmp_path / 'd.safetensors')
  run_convert('discriminator', tmp_path / 'd.safetensors', tmp_path / 'back.msgpack')
  _, _, back_variables = model_io.load_model(tmp_path / 'back.msgpack')
  assert_trees_equal(back_variables, variables)


@pytest.mark.parametrize('command', ['generator', 'discriminator', 'vgg19'])
def test_damaged_safetensors_is_refused_by_the_cli(tmp_path, capsys, command):
  safetensors_io.save_state_dict(tmp_path / 'g.safetensors', tiny_basicsr_state())
  data = (tmp_path / 'g.safetensors').read_bytes()
  (tmp_path / 'g.safetensors').write_bytes(data[: len(data) // 2])
  assert convert.main([command, str(tmp_path / 'g.safetensors'), str(tmp_path / 'out.msgpack')]) == 2
  assert re.search(r'Cannot convert .*g\.safetensors: .*truncated or corrupt \.safetensors', capsys.readouterr().err)
  assert not (tmp_path / 'out.msgpack').exists()


def test_to_onnx_cli_writes_an_fp16_model(tmp_path, capsys):
  pytest.importorskip('jax2onnx')
  ort = pytest.importorskip('onnxruntime')
  module = RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4)
  params = random_variables(module, (1, 8, 8, 3))['params']
  model_io.save_generator(tmp_path / 'g.msgpack', module, params)
  run_convert('to-onnx', tmp_path / 'g.msgpack', tmp_path / 'g.onnx', '--fp16')
  assert 'ONNX opset 17, float16, input NCHW [batch, 3, height, width]' in capsys.readouterr().out
  session = ort.InferenceSession(str(tmp_path / 'g.onnx'), providers=['CPUExecutionProvider'])
  x = images((2, 6, 5, 3))
  out = session.run(None, {'input': x.transpose(0, 3, 1, 2).astype(np.float16)})[0]
  assert_close(out.transpose(0, 2, 3, 1).astype(np.float32), module.apply({'params': params}, x), atol=1e-2)


def test_to_onnx_without_the_export_extra_says_how_to_install_it(tmp_path, capsys, monkeypatch):
  monkeypatch.setitem(sys.modules, 'jax2onnx', None)
  model_io.save_generator(tmp_path / 'g.msgpack', RRDBNet(**TINY), random_params(RRDBNet(**TINY)))
  assert convert.main(['to-onnx', str(tmp_path / 'g.msgpack'), str(tmp_path / 'g.onnx')]) == 2
  assert "pip install 'esrgan_jax[export]'" in capsys.readouterr().err
  assert not (tmp_path / 'g.onnx').exists()


@pytest.mark.parametrize('scale', [4, 3])
def test_msrresnet_round_trip_through_pth(tmp_path, capsys, scale):
  module = MSRResNet(scale=scale, num_feat=8, num_block=3)
  params = random_variables(module, (1, 8, 8, 3))['params']
  model_io.save_generator(tmp_path / 'ours.msgpack', module, params)
  run_convert('to-pth', tmp_path / 'ours.msgpack', tmp_path / 'ours.pth')
  exported = torch.load(tmp_path / 'ours.pth', weights_only=True)
  net = TorchMSRResNet(upscale=scale, num_feat=8, num_block=3).eval()
  net.load_state_dict(exported['params_ema'], strict=True)
  x = images((1, 5, 7, 3))
  assert_close(module.apply({'params': params}, x), torch_apply(net, x))
  torch.save({'params': {f'module.{k}': v for k, v in exported['params'].items()}}, tmp_path / 'wrapped.pth')
  run_convert('generator', tmp_path / 'wrapped.pth', tmp_path / 'back.msgpack')
  expected = f'MSRResNet key names -> MSRResNet(scale {scale}, 3 blocks, num_feat 8, 3->3 channels)'
  assert expected in capsys.readouterr().out
  back_module, back_params = model_io.load_generator(tmp_path / 'back.msgpack')
  assert back_module == module
  assert_trees_equal(back_params, params)


def test_broken_msrresnet_state_dict_names_the_bad_keys():
  state = {k: v.numpy() for k, v in seeded(0, TorchMSRResNet, upscale=2, num_feat=8, num_block=2).state_dict().items()}
  del state['body.1.conv2.bias']
  state['conv_hr.weight'] = np.zeros((8, 4, 3, 3), np.float32)
  state['body.0.bn1.weight'] = np.ones(8, np.float32)
  with pytest.raises(ValueError) as error:
    generator_state_dicts.generator_from_torch(state)
  for pattern in (
    r'MSRResNet\(scale 2, 2 blocks, num_feat 8, 3->3 channels\) in MSRResNet key names',
    r'missing keys \(1\): body\.1\.conv2\.bias',
    r'unknown keys \(1\): body\.0\.bn1\.weight',
    r'wrong shapes \(1\): conv_hr\.weight has shape \(8, 4, 3, 3\), expected \(8, 8, 3, 3\)',
  ):
    assert re.search(pattern, str(error.value)), pattern


def test_discriminator_round_trip_through_pth(tmp_path):
  module = VGGStyleDiscriminator(num_feat=8)
  variables = random_variables(module, (1, 128, 128, 3))
  config = dict(num_in_ch=3, num_feat=8, input_size=128)
  model_io.save_model(tmp_path / 'd.msgpack', 'VGGStyleDiscriminator', config, variables)
  run_convert('to-pth', tmp_path / 'd.msgpack', tmp_path / 'd.pth')
  exported = torch.load(tmp_path / 'd.pth', weights_only=True)
  assert list(exported) == ['params']
  net = TorchVGGStyleDiscriminator(num_feat=8).eval()
  net.load_state_dict(exported['params'], strict=True)
  x = images((2, 128, 128, 3))
  assert_close(module.apply(variables, x, train=False), torch_apply(net, x))
  back_module, back_variables = discriminator_state_dict.discriminator_from_torch(
    torch_io.load_state_dict(tmp_path / 'd.pth')
  )
  assert back_module == module
  assert_trees_equal(back_variables, variables)


def tiny_basicsr_state() -> dict:
  return {k: v.numpy() for k, v in seeded(0, TorchRRDBNet, **TINY).state_dict().items()}


def test_bad_keys_are_all_listed_in_one_error(tmp_path, capsys):
  state = tiny_basicsr_state()
  del state['body.1.rdb2.conv3.bias'], state['conv_hr.weight']
  state['body.0.rdb1.conv5.weight'] = np.zeros((8, 23, 3, 3), np.float32)
  state['extra.weight'] = np.zeros(3, np.float32)
  expected = [
    r'RRDBNet\(scale 4, 2 blocks, num_feat 8, num_grow_ch 4, 3->3 channels\) in BasicSR key names',
    r'missing keys \(2\): body\.1\.rdb2\.conv3\.bias, conv_hr\.weight',
    r'unknown keys \(1\): extra\.weight',
    r'wrong shapes \(1\): body\.0\.rdb1\.conv5\.weight has shape \(8, 23, 3, 3\), expected \(8, 24, 3, 3\)',
  ]
  with pytest.raises(ValueError) as error:
    generator_state_dicts.generator_from_torch(state)
  for pattern in expected:
    assert re.search(pattern, str(error.value)), pattern
  torch_io.save_state_dict(tmp_path / 'bad.pth', {'params': state})
  assert convert.main(['generator', str(tmp_path / 'bad.pth'), str(tmp_path / 'out.msgpack')]) == 2
  stderr = capsys.readouterr().err
  assert 'bad.pth' in stderr and all(re.search(pattern, stderr) for pattern in expected)
  assert not (tmp_path / 'out.msgpack').exists()


def test_errors_name_the_problem():
  with pytest.raises(ValueError, match=r"No 'params_ema' state dict .* plain state dict"):
    generator_state_dicts.generator_from_torch(tiny_basicsr_state(), params_key='params_ema')
  discriminator_state = {k: v.numpy() for k, v in TorchVGGStyleDiscriminator(num_feat=8).state_dict().items()}
  with pytest.raises(ValueError, match=r'Unknown architecture: .* keys conv0_0\.weight.*Supported generator families'):
    generator_state_dicts.generator_from_torch(discriminator_state)
  with pytest.raises(ValueError, match=r'missing keys \(2\): linear2\.bias, linear2\.weight'):
    discriminator_state_dict.discriminator_from_torch(
      {k: v for k, v in discriminator_state.items() if 'linear2' not in k}
    )
  with pytest.raises(ValueError, match=r'missing keys \(32\): features\.0\.bias, features\.0\.weight, features\.2\.'):
    perceptual.vgg19_from_torch({'classifier.0.weight': np.zeros(2)})


def test_to_pth_rejects_other_model_files(tmp_path, capsys):
  model_io.save_model(tmp_path / 'vgg.msgpack', 'VGG19Features', {}, {'params': {}})
  assert convert.main(['to-pth', str(tmp_path / 'vgg.msgpack'), str(tmp_path / 'vgg.pth')]) == 2
  assert 'holds VGG19Features; state dicts are exported for generators' in capsys.readouterr().err


class _Payload:
  """Unpickles into a call of os.system that creates `marker`."""

  def __init__(self, marker: Path):
    self.marker = marker

  def __reduce__(self):
    return os.system, (f'touch {self.marker}',)


@pytest.mark.parametrize('command', ['generator', 'discriminator', 'vgg19', 'minc'])
def test_malicious_pth_is_refused_by_the_cli(tmp_path, capsys, command):
  marker = tmp_path / 'pwned'
  with zipfile.ZipFile(tmp_path / 'evil.pth', 'w') as archive:
    archive.writestr('evil/data.pkl', pickle.dumps({'conv_first.weight': _Payload(marker)}, protocol=2))
  assert convert.main([command, str(tmp_path / 'evil.pth'), str(tmp_path / 'out.msgpack')]) == 2
  assert re.search(r'Cannot convert .*evil\.pth: .*refusing to load.*system', capsys.readouterr().err)
  assert not marker.exists() and not (tmp_path / 'out.msgpack').exists()


def test_cli_converts_and_loads_without_torch(tmp_path):
  net = seeded(0, TorchRRDBNet, **TINY)
  torch.save(official_keys(net.state_dict(), 'ESRGAN', 2), tmp_path / 'g.pth', _use_new_zipfile_serialization=False)
  script = '\n'.join(
    [
      'import sys',
      "sys.modules['torch'] = None  # Any `import torch` now raises ImportError.",
      'from esrgan_jax import convert',
      'from esrgan_jax.weights import model_io',
      "assert convert.main(['generator', 'g.pth', 'g.msgpack']) == 0",
      "model_io.load_generator('g.msgpack')",
      "assert convert.main(['to-pth', 'g.msgpack', 'back.pth']) == 0",
      "assert convert.main(['to-safetensors', 'g.msgpack', 'g.safetensors']) == 0",
      "assert convert.main(['generator', 'g.safetensors', 'g2.msgpack']) == 0",
    ]
  )
  env = {
    **os.environ,
    'PYTHONPATH': os.pathsep.join([str(REPO_ROOT), os.environ.get('PYTHONPATH', '')]),
    'JAX_PLATFORMS': 'cpu',
  }
  result = subprocess.run([sys.executable, '-c', script], cwd=tmp_path, env=env, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr
  net.load_state_dict(torch.load(tmp_path / 'back.pth', weights_only=True)['params_ema'], strict=True)


def test_missing_vgg19_file_points_to_where_to_get_it(tmp_path, capsys):
  assert convert.main(['vgg19', str(tmp_path / 'vgg19-dcbb9e9d.pth'), str(tmp_path / 'vgg19.msgpack')]) == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'third_party/vgg_weights/README.md' in err and 'vgg19-dcbb9e9d.pth' in err
