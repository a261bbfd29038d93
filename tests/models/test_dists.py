"""Tests for esrgan_jax.models.dists: DISTS against the `dists-pytorch` package (random VGG16 backbone, the wheel's
alpha/beta), through `convert dists`, the metric, `evaluate --metrics dists` and training validation."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax import evaluate
from esrgan_jax.configs import default
from esrgan_jax.inference import quality
from esrgan_jax.inference.dists_metric import load_dists
from esrgan_jax.models.dists import DISTS, MIN_SIZE, l2_pool
from esrgan_jax.training import config_checks, validation
from esrgan_jax.weights import dists_weights
from esrgan_jax.weights.official_files import DISTS_FILES

torch = pytest.importorskip('torch')
from helpers import import_beside_torchvision, photo_pairs, run_convert, smooth_image, write_image_set  # noqa: E402


@pytest.fixture(scope='module')
def package_dists(tmp_path_factory):
  """(the package's DISTS with a random VGG16 and the wheel's alpha/beta, our converted file of it)."""
  dists_pt = import_beside_torchvision('DISTS_pytorch.DISTS_pt', 'dists-pytorch is not installed (pip install .[test])')
  import torchvision  # pylint: disable=g-import-not-at-top

  torch.manual_seed(0)
  vgg16 = torchvision.models.vgg16
  random_vgg16 = lambda pretrained=False: vgg16(weights=None)  # no download: random weights
  with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
    warnings.simplefilter('ignore', UserWarning)
    patch.setattr(dists_pt.models, 'vgg16', random_vgg16)
    model = dists_pt.DISTS(load_weights=False).eval()
  official = torch.load(dists_weights.package_weights(), map_location='cpu', weights_only=True)
  with torch.no_grad():
    model.alpha.copy_(official['alpha'])
    model.beta.copy_(official['beta'])
    for name, value in model.named_parameters():
      if name.endswith('bias'):
        value.uniform_(-0.1, 0.1)  # torchvision's VGG starts at zero biases, which would hide a bias mix-up
  backbone = {
    f'features.{key.split(".", 1)[1]}': value
    for key, value in model.state_dict().items()
    if key.startswith('stage') and not key.endswith('filter')
  }
  backbone.update({'classifier.0.weight': torch.randn(8, 4), 'classifier.0.bias': torch.randn(8)})
  folder = tmp_path_factory.mktemp('dists')
  torch.save(backbone, folder / DISTS_FILES.backbone)
  output = folder / 'dists.msgpack'
  run_convert('dists', '--backbone', folder / DISTS_FILES.backbone, output)  # alpha/beta: the installed wheel
  return model, output


def test_parity_with_the_dists_package(package_dists):
  model, path = package_dists
  a, b = photo_pairs()
  with torch.no_grad():
    expected = model(*(torch.from_numpy(x.transpose(0, 3, 1, 2)) for x in (a, b))).numpy().ravel()
  got = load_dists(path)(a, b)
  assert got.shape == (2,) and got.dtype == np.float32
  assert expected.min() > 0.01 and expected[0] != pytest.approx(expected[1], abs=1e-3)  # distances mean something
  np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
  assert load_dists(path)(a[0], a[0]) == pytest.approx(0.0, abs=1e-6)


def test_l2_pool_is_the_hann_blur_of_squares():
  x = jnp.arange(2 * 5 * 6 * 2, dtype=jnp.float32).reshape(2, 5, 6, 2) / 50
  window = np.outer([0.5, 1, 0.5], [0.5, 1, 0.5]) / 4
  padded = np.pad(np.asarray(x) ** 2, ((0, 0), (1, 1), (1, 1), (0, 0)))
  expected = np.stack(
    [
      np.stack([np.einsum('bhwc,hw->bc', padded[:, i : i + 3, j : j + 3], window) for j in range(0, 6, 2)], 1)
      for i in range(0, 5, 2)
    ],
    1,
  )
  got = l2_pool(x)
  assert got.shape == (2, 3, 3, 2)
  np.testing.assert_allclose(got, np.sqrt(expected + 1e-12), rtol=1e-6)


def test_evaluate_and_training_validation_report_dists(package_dists, tmp_path, capsys):
  _, path = package_dists
  folder = write_image_set(tmp_path / 'set', {'a': smooth_image(64, 64)})
  assert evaluate.main([str(folder), '--bicubic', '--metrics', 'psnr,dists', '--dists', str(path)]) == 0
  assert 'DISTS' in capsys.readouterr().out
  config = default.get_config()
  config.gan.update(val_niqe=False, val_dists=str(path), best_metric='val_dists')
  config_checks.check(config)
  stage = config.gan
  assert validation.metric_names(stage) == (*quality.DISTORTION, 'dists')
  assert 'dists' in validation.available_metrics(stage)
  with pytest.raises(ValueError, match=r"set config.gan.val_dists='default'"):
    config.gan.val_dists = ''
    config_checks.check(config)


def test_missing_weights_name_the_convert_command(tmp_path):
  with pytest.raises(FileNotFoundError, match='python -m esrgan_jax.convert dists --backbone vgg16-397923af.pth'):
    load_dists(tmp_path / 'nope.msgpack')
  small = jax.ShapeDtypeStruct((1, MIN_SIZE - 1, 32, 3), jnp.float32)
  with pytest.raises(ValueError, match=f'at least {MIN_SIZE}x{MIN_SIZE}'):
    jax.eval_shape(DISTS().init, jax.random.key(0), small, small)
