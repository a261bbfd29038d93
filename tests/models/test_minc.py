"""Tests for esrgan_jax.models.minc: ESRGAN's MINC VGG16 (conv53), against a torch MINCNet via `convert minc`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax.models.minc import MINCNet, max_pool_ceil
from esrgan_jax.weights import perceptual

torch = pytest.importorskip('torch')
from helpers import assert_close, images, run_convert, seeded, torch_apply  # noqa: E402  (needs torch)
from torch_archs import TorchMINCNet  # noqa: E402  (needs torch)


def test_ceil_mode_pool_keeps_the_last_row_and_column():
  x = jnp.arange(15.0).reshape(1, 3, 5, 1)
  np.testing.assert_array_equal(max_pool_ceil(x)[0, ..., 0], [[6, 8, 9], [11, 13, 14]])
  assert max_pool_ceil(jnp.zeros((2, 4, 6, 3))).shape == (2, 2, 3, 3)


def test_vgg16_conv_params_and_output_shape():
  shapes = jax.eval_shape(MINCNet().init, jax.random.key(0), jax.ShapeDtypeStruct((1, 37, 29, 3), jnp.float32))
  assert sum(x.size for x in jax.tree.leaves(shapes['params'])) == 14_714_688  # VGG16's 13 convs
  assert list(shapes['params']) == [
    'conv11',
    'conv12',
    'conv21',
    'conv22',
    'conv31',
    'conv32',
    'conv33',
    'conv41',
    'conv42',
    'conv43',
    'conv51',
    'conv52',
    'conv53',
  ]
  out = jax.eval_shape(MINCNet().apply, shapes, jax.ShapeDtypeStruct((1, 37, 29, 3), jnp.float32))
  assert jax.tree.map(lambda x: x.shape, out) == {'conv53': (1, 3, 2, 512)}  # ceil: 37 -> 19 -> 10 -> 5 -> 3


def test_parity_with_torch_through_convert_minc(tmp_path, capsys):
  net = seeded(0, TorchMINCNet)
  for conv in (m for m in net.modules() if isinstance(m, torch.nn.Conv2d)):  # He init, so conv53 is not tiny
    torch.nn.init.kaiming_normal_(conv.weight, nonlinearity='relu')
    torch.nn.init.uniform_(conv.bias, -0.1, 0.1)
  torch.save(net.state_dict(), tmp_path / 'VGG16minc_53.pth')
  run_convert('minc', tmp_path / 'VGG16minc_53.pth', tmp_path / 'minc.msgpack')
  assert 'MINCNet params (14,714,688)' in capsys.readouterr().out
  params = perceptual.load_params('minc', tmp_path / 'minc.msgpack')
  x = images((1, 37, 29, 3))  # odd sizes at every pool, so ceil mode matters
  out = MINCNet().apply({'params': params}, x)['conv53']
  assert float(out.min()) < 0  # before the ReLU
  assert_close(out, torch_apply(net, x))


def test_bad_state_dict_names_the_keys():
  state = {
    f'conv{g}{i}.{leaf}': np.zeros(1)
    for g, n in ((1, 2), (2, 2))
    for i in range(1, n + 1)
    for leaf in ('weight', 'bias')
  }
  with pytest.raises(ValueError, match=r'(?s)MINCNet.*missing keys \(18\): conv31\.bias.*wrong shapes \(8\): conv11'):
    perceptual.minc_from_torch(state)


def test_missing_minc_weights_name_the_command(tmp_path, monkeypatch):
  monkeypatch.setenv('ESRGAN_JAX_WEIGHTS', str(tmp_path))
  with pytest.raises(FileNotFoundError) as error:
    perceptual.load_params('minc')
  assert f'python -m esrgan_jax.convert minc VGG16minc_53.pth {tmp_path / "vgg16_minc53.msgpack"}' in str(error.value)
