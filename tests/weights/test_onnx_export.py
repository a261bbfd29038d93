"""Tests for esrgan_jax.weights.onnx_export: generators exported with jax2onnx, run by onnxruntime on CPU, against our
own output (dynamic batch and odd sizes, fp32 within 1e-4, fp16 within 1e-2)."""

import sys

import numpy as np
import pytest
from helpers import assert_close, images, random_params, tiny_generator

from esrgan_jax.inference.tiling import upscale_image
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.models.srresnet import MSRResNet
from esrgan_jax.weights import onnx_export

SIZES = [(1, 8, 12), (2, 9, 7)]  # (batch, H, W): two batch sizes, even and odd sides, one graph


@pytest.mark.parametrize(
  'module, expected',
  [
    (RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4), (1, 4)),
    (RRDBNet(scale=2, num_feat=8, num_block=1, num_grow_ch=4), (2, 2)),
    (RRDBNet(scale=1, num_feat=8, num_block=1, num_grow_ch=4), (4, 1)),
    (MSRResNet(scale=3, num_feat=8, num_block=1), (1, 3)),
  ],
  ids=['rrdbnet-x4', 'rrdbnet-x2', 'rrdbnet-x1', 'msrresnet-x3'],
)
def test_size_multiple_and_scale_are_traced_from_the_module(module, expected):
  assert onnx_export.size_multiple_and_scale(module, random_params(module)) == expected


def _ours(module, params, x_nchw: np.ndarray, scale: int) -> np.ndarray:
  """Our output for each NCHW image the way `upscale` computes it (reflect-padded to the size multiple), NCHW."""
  apply = lambda x: module.apply({'params': params}, x)
  return np.stack([upscale_image(apply, image.transpose(1, 2, 0), scale=scale).transpose(2, 0, 1) for image in x_nchw])


def _run(model, x: np.ndarray) -> np.ndarray:
  ort = pytest.importorskip('onnxruntime')
  session = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])
  return session.run(None, {'input': x})[0]


def _dims(value_info) -> list:
  return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


GENERATORS = pytest.mark.parametrize(
  'make',
  [lambda: tiny_generator(4), lambda: tiny_generator(2), lambda: tiny_generator(1)],
  ids=['rrdbnet-x4', 'rrdbnet-x2', 'rrdbnet-x1'],
)


@GENERATORS
def test_fp32_export_matches_our_output_at_any_batch_and_size(make):
  pytest.importorskip('jax2onnx')
  module, params = make()
  model = onnx_export.to_onnx(module, params)
  assert _dims(model.graph.input[0]) == ['B', 3, 'H', 'W']
  scale = module.scale
  assert _dims(model.graph.output[0]) == ['B', 3, *(f'{scale}*{d}' if scale > 1 else d for d in 'HW')]
  for batch, h, w in SIZES:
    x = images((batch, 3, h, w), seed=h)
    out = _run(model, x)
    assert out.shape == (batch, 3, h * scale, w * scale) and out.dtype == np.float32
    assert_close(out, _ours(module, params, x, scale))


def test_written_file_is_one_valid_model(tmp_path):
  pytest.importorskip('jax2onnx')
  onnx = pytest.importorskip('onnx')
  module, params = tiny_generator(4)
  onnx_export.save_onnx(tmp_path / 'g.onnx', module, params)
  assert [p.name for p in tmp_path.iterdir()] == ['g.onnx']  # weights inside, no .onnx.data sidecar
  model = onnx.load(tmp_path / 'g.onnx')
  onnx.checker.check_model(model)
  x = images((1, 3, 5, 7))
  assert_close(_run(model, x), _ours(module, params, x, 4))


def test_generator_jax2onnx_cannot_lower_is_named():
  """MSRResNet's bilinear jax.image.resize: jax2onnx 0.17 lowers it for static shapes only."""
  pytest.importorskip('jax2onnx')
  module = MSRResNet(scale=3, num_feat=8, num_block=1)
  with pytest.raises(ValueError, match='jax2onnx cannot export MSRResNet with dynamic batch, height and width'):
    onnx_export.to_onnx(module, random_params(module))


def test_fp16_export_is_half_precision_throughout_and_close():
  pytest.importorskip('jax2onnx')
  module, params = tiny_generator(2)
  model = onnx_export.to_onnx(module, params, fp16=True)
  float32, float16 = 1, 10  # onnx.TensorProto.FLOAT, FLOAT16
  assert model.graph.input[0].type.tensor_type.elem_type == float16
  assert {t.data_type for t in model.graph.initializer if t.data_type in (float32, float16)} == {float16}
  x = images((1, 3, 9, 12))
  out = _run(model, x.astype(np.float16))
  assert out.dtype == np.float16
  assert_close(out.astype(np.float32), _ours(module, params, x, 2), atol=1e-2)


def test_missing_jax2onnx_names_the_extra(monkeypatch):
  monkeypatch.setitem(sys.modules, 'jax2onnx', None)
  module, params = tiny_generator(4)
  with pytest.raises(ImportError, match=r"pip install 'esrgan_jax\[export\]'"):
    onnx_export.to_onnx(module, params)
