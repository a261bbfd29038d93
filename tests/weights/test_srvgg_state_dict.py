"""Real-ESRGAN's SRVGGNetCompact state dicts: parity at x2/x3/x4, sizes inferred, to-pth and back, refusals."""

import numpy as np
import pytest

from esrgan_jax.models.srvgg import SRVGGNetCompact
from esrgan_jax.weights import generator_state_dicts, model_io, torch_io

torch = pytest.importorskip('torch')
from helpers import assert_close, assert_trees_equal, images, random_variables, run_convert, seeded, torch_apply
from torch_archs import TorchSRVGGNetCompact  # noqa: E402  (needs torch)


def _with_random_slopes(net):
  with torch.no_grad():
    for layer in net.body:
      if isinstance(layer, torch.nn.PReLU):
        layer.weight.uniform_(-0.5, 0.5)
  return net


@pytest.mark.parametrize('scale', [2, 3, 4])
def test_parity_with_torch_at_every_scale(tmp_path, capsys, scale):
  net = _with_random_slopes(seeded(scale, TorchSRVGGNetCompact, num_feat=8, num_conv=3, upscale=scale))
  torch.save({'params': net.state_dict()}, tmp_path / 'compact.pth')
  run_convert('generator', tmp_path / 'compact.pth', tmp_path / 'compact.msgpack')
  expected = f'SRVGGNetCompact key names -> SRVGGNetCompact(scale {scale}, 3 convs, num_feat 8, act prelu, 3->3'
  assert expected in capsys.readouterr().out
  module, params = model_io.load_generator(tmp_path / 'compact.msgpack')
  x = images((1, 6, 5, 3))
  assert_close(module.apply({'params': params}, x), torch_apply(net, x))


@pytest.mark.parametrize('num_conv', [32, 16], ids=['realesr-general-x4v3', 'realesr-animevideov3'])
def test_official_sizes_are_inferred(num_conv):
  state = {k: v.numpy() for k, v in TorchSRVGGNetCompact(num_feat=64, num_conv=num_conv).state_dict().items()}
  module, _ = generator_state_dicts.generator_from_torch({'params': state})
  assert module == SRVGGNetCompact(num_feat=64, num_conv=num_conv, scale=4, act_type='prelu')


def test_round_trip_through_pth(tmp_path):
  module = SRVGGNetCompact(scale=3, num_feat=8, num_conv=2)
  params = random_variables(module, (1, 8, 8, 3))['params']
  model_io.save_generator(tmp_path / 'ours.msgpack', module, params)
  run_convert('to-pth', tmp_path / 'ours.msgpack', tmp_path / 'ours.pth')
  net = TorchSRVGGNetCompact(num_feat=8, num_conv=2, upscale=3).eval()
  net.load_state_dict(torch.load(tmp_path / 'ours.pth', weights_only=True)['params_ema'], strict=True)
  x = images((1, 4, 6, 3))
  assert_close(module.apply({'params': params}, x), torch_apply(net, x))
  run_convert('generator', tmp_path / 'ours.pth', tmp_path / 'back.msgpack')
  back_module, back_params = model_io.load_generator(tmp_path / 'back.msgpack')
  assert back_module == module
  assert_trees_equal(back_params, params)


def test_activation_without_weights_is_refused():
  state = {k: v.numpy() for k, v in TorchSRVGGNetCompact(num_feat=8, num_conv=1, act_type='relu').state_dict().items()}
  with pytest.raises(ValueError, match=r'no PReLU weights \(body\.1\.weight\).*ReLU or LeakyReLU'):
    generator_state_dicts.generator_from_torch(state)


def test_last_conv_that_is_no_pixel_shuffle_is_named(tmp_path):
  state = {k: v.numpy() for k, v in TorchSRVGGNetCompact(num_feat=8, num_conv=1, upscale=2).state_dict().items()}
  state['body.4.weight'], state['body.4.bias'] = np.zeros((10, 8, 3, 3), np.float32), np.zeros(10, np.float32)
  torch_io.save_state_dict(tmp_path / 'bad.pth', state)
  with pytest.raises(ValueError, match=r'body\.4\.weight has 10 output channels.*3 \* scale\*\*2'):
    generator_state_dicts.generator_from_torch(torch_io.load_state_dict(tmp_path / 'bad.pth'))
