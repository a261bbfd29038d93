"""Tests for esrgan_jax.models.lpips: LPIPS v0.1 against the `lpips` package, through `convert lpips` and the metric."""

import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax.inference.lpips_metric import load_lpips
from esrgan_jax.models.lpips import LPIPS, MIN_SIZE, unit_normalize
from esrgan_jax.weights.lpips_weights import load_lpips as load_lpips_params

torch = pytest.importorskip('torch')
from helpers import import_beside_torchvision, photo_pairs, run_convert  # noqa: E402  (needs torch)


def _import_lpips():
  """The `lpips` package, or a skip without it (see `helpers.import_beside_torchvision`)."""
  return import_beside_torchvision('lpips', 'the lpips package is not installed (pip install .[test])')


@pytest.fixture(scope='module', params=['alex', 'vgg'])
def package_lpips(request, tmp_path_factory):
  """(net, the package's LPIPS with a random backbone and random linear weights, our converted file of it).

  The backbone goes into a torchvision-layout .pth (zip, with classifier keys), the linear layers into a legacy-format
  .pth as the wheel ships them.
  """
  lpips, net = _import_lpips(), request.param
  torch.manual_seed(0)
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', UserWarning)  # torchvision's deprecation of `pretrained`
    model = lpips.LPIPS(pretrained=False, net=net, pnet_rand=True, verbose=False).eval()
  with torch.no_grad():
    for name, value in model.net.named_parameters():
      if name.endswith('bias'):
        value.uniform_(-0.1, 0.1)  # torchvision's VGG starts at zero biases, which would hide a bias mix-up
    for lin in model.lins:
      lin.model[1].weight.uniform_(0.0, 0.2)
  folder = tmp_path_factory.mktemp(f'lpips_{net}')
  backbone = {f'features.{key.split(".", 1)[1]}': value for key, value in model.net.state_dict().items()}
  backbone.update({'classifier.1.weight': torch.randn(8, 4), 'classifier.1.bias': torch.randn(8)})
  torch.save(backbone, folder / 'backbone.pth')
  linear = {key: value for key, value in model.state_dict().items() if key.startswith('lin') and 'lins' not in key}
  torch.save(linear, folder / f'{net}.pth', _use_new_zipfile_serialization=False)
  output = folder / f'lpips_{net}.msgpack'
  run_convert('lpips', '--net', net, '--backbone', folder / 'backbone.pth', '--linear', folder / f'{net}.pth', output)
  return net, model, output


def test_parity_with_the_lpips_package(package_lpips):
  net, model, path = package_lpips
  a, b = photo_pairs()
  with torch.no_grad():
    expected = model(*(torch.from_numpy(x.transpose(0, 3, 1, 2)) for x in (a, b)), normalize=True).numpy().ravel()
  got = load_lpips(path)(a, b)
  assert got.shape == (2,) and got.dtype == np.float32
  assert expected.min() > 0.01 and expected[0] != pytest.approx(expected[1], abs=1e-3)  # distances mean something
  np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize('package_lpips', ['alex'], indirect=True)
def test_single_uint8_pair_gives_a_float(package_lpips):
  _, _, path = package_lpips
  a, b = (np.round(x[0] * 255).astype(np.uint8) for x in photo_pairs())
  distance = load_lpips(path)
  single = distance(a, b)
  assert isinstance(single, float) and single == pytest.approx(float(distance(a[None], b[None])[0]), abs=1e-7)
  assert single == pytest.approx(float(distance(a / 255.0, b / 255.0)), abs=1e-6)
  assert distance(a, a) == pytest.approx(0.0, abs=1e-7)  # 0 up to the conv's rounding at another batch position
  assert distance(b, a) == pytest.approx(single, rel=1e-6)


def test_the_wheels_own_linear_layers_convert(package_lpips, tmp_path):
  """The wheel's v0.1 files (legacy format, tensors saved on a CUDA device) read through our loader, unchanged."""
  net, _, path = package_lpips
  wheel_file = Path(_import_lpips().__file__).parent / 'weights' / 'v0.1' / f'{net}.pth'
  run_convert('lpips', '--net', net, '--backbone', path.parent / 'backbone.pth', '--linear', wheel_file, tmp_path / 'w')
  params = load_lpips_params(tmp_path / 'w')[1]
  official = torch.load(wheel_file, map_location='cpu', weights_only=True)
  assert sorted(official) == [f'lin{k}.model.1.weight' for k in range(5)]
  for k in range(5):
    np.testing.assert_array_equal(
      params[f'lin{k}']['kernel'][0, 0, :, 0], official[f'lin{k}.model.1.weight'][0, :, 0, 0]
    )


def test_unit_normalize_keeps_zero_vectors_finite():
  features = jnp.array([[3.0, 4.0], [0.0, 0.0]])
  np.testing.assert_allclose(unit_normalize(features), [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)


@pytest.mark.parametrize('net', ['alex', 'vgg'])
def test_too_small_images_are_a_clear_error(net):
  size = MIN_SIZE[net]
  ok = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
  jax.eval_shape(LPIPS(net).init, jax.random.key(0), ok, ok)
  small = jax.ShapeDtypeStruct((1, size - 1, size + 5, 3), jnp.float32)
  with pytest.raises(ValueError, match=f'at least {size}x{size}'):
    jax.eval_shape(LPIPS(net).init, jax.random.key(0), small, small)


def test_bad_inputs_are_clear_errors():
  x = jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32)
  with pytest.raises(ValueError, match='equal shape'):
    jax.eval_shape(LPIPS().init, jax.random.key(0), x, jax.ShapeDtypeStruct((1, 32, 40, 3), jnp.float32))
  with pytest.raises(ValueError, match='Unknown LPIPS backbone'):
    jax.eval_shape(LPIPS('squeeze').init, jax.random.key(0), x, x)
