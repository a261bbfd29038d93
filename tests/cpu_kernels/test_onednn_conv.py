import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import photo_pairs, tiny_generator

from esrgan_jax.cpu_kernels import build, onednn_conv
from esrgan_jax.cpu_kernels.onednn_conv import Choice, OneDNNConv, OneDNNDenseBlock
from esrgan_jax.inference import apply
from esrgan_jax.models import layers

_DIMENSIONS = ('NHWC', 'HWIO', 'NHWC')


# oneDNN's bf16 convolutions need AVX-512 (avx512bw: emulated bf16 without the bf16 units) or AVX-NE-CONVERT; on an
# AVX2-only CPU it creates no primitive ('could not create a primitive descriptor').
ONEDNN_BF16_FLAGS = ('avx512bw', 'avx_ne_convert')


@pytest.fixture
def library():
  if not any(flag in onednn_conv.cpu_flags() for flag in ONEDNN_BF16_FLAGS):
    pytest.skip('oneDNN has no bf16 convolution for this CPU (it needs AVX-512 or AVX-NE-CONVERT)')
  try:
    return onednn_conv.load_library()
  except build.Unavailable as e:
    pytest.skip(f'oneDNN conv library cannot be built here: {e}')


@pytest.fixture
def fresh_choice():
  """`choice()` made again in the test and again after it (other tests see the host's own)."""
  onednn_conv.choice.cache_clear()
  yield
  onednn_conv.choice.cache_clear()


@pytest.fixture
def onednn_chosen(monkeypatch, library):
  """`OneDNNConv` on the oneDNN path whatever the CPU (oneDNN runs bf16 on any x86 CPU it supports, if slower)."""
  monkeypatch.setattr(onednn_conv, 'choice', lambda: Choice(True, 'test'))


def _bf16(rng, shape, scale=1.0):
  return jnp.asarray(rng.standard_normal(shape) * scale, jnp.bfloat16)


@pytest.mark.parametrize(
  ('shape', 'kernel_size', 'stride', 'padding'),
  [((2, 20, 24, 64), 3, 1, 1), ((1, 9, 7, 12), 1, 1, 0), ((1, 16, 16, 8), 3, 2, 1)],
)
def test_matches_lax_conv_with_one_rounding(library, shape, kernel_size, stride, padding):
  rng = np.random.default_rng(0)
  x = _bf16(rng, shape)
  kernel = _bf16(rng, (kernel_size, kernel_size, shape[-1], 32), (kernel_size**2 * shape[-1]) ** -0.5)
  bias = jnp.asarray(rng.standard_normal(32), jnp.float32)
  out = jax.jit(onednn_conv.onednn_conv, static_argnums=(3, 4))(x, kernel, bias, stride, padding)
  conv = lambda x, k: jax.lax.conv_general_dilated(
    x, k, (stride,) * 2, [(padding,) * 2] * 2, dimension_numbers=_DIMENSIONS
  )
  exact = np.asarray(conv(x.astype(jnp.float32), kernel.astype(jnp.float32)) + bias)
  assert out.dtype == jnp.bfloat16 and out.shape == exact.shape
  out = np.asarray(out, np.float32)
  # float32 accumulation, one rounding to bf16 (8 significant bits): within half an ulp plus summation order
  np.testing.assert_allclose(out, exact, rtol=2**-8, atol=1e-3)
  xla_bf16 = np.asarray(conv(x, kernel) + bias.astype(jnp.bfloat16), np.float32)  # layers.Conv's bf16 path
  np.testing.assert_allclose(out, xla_bf16, rtol=2**-7, atol=2e-2)


def test_gradients_match_lax_conv(library):
  rng = np.random.default_rng(1)
  x, kernel = _bf16(rng, (1, 8, 8, 4)), _bf16(rng, (3, 3, 4, 6), 0.2)
  bias = jnp.asarray(rng.standard_normal(6), jnp.float32)
  loss = lambda conv: lambda *a: (conv(*a).astype(jnp.float32) ** 2).sum()
  ours = jax.grad(loss(onednn_conv.onednn_conv), argnums=(0, 1, 2))(x, kernel, bias)
  xla = lambda x, k, b: jax.lax.conv_general_dilated(x, k, (1, 1), [(1, 1)] * 2, dimension_numbers=_DIMENSIONS) + b
  ref = jax.grad(loss(xla), argnums=(0, 1, 2))(x.astype(jnp.float32), kernel.astype(jnp.float32), bias)
  for g, r in zip(ours, ref, strict=True):
    np.testing.assert_allclose(np.asarray(g, np.float32), r, rtol=0.03, atol=0.03 * np.abs(r).max())


def test_rejects_float32_inputs():
  with pytest.raises(TypeError, match='bfloat16 x and kernel'):
    onednn_conv.onednn_conv(jnp.zeros((1, 4, 4, 2)), jnp.zeros((3, 3, 2, 2), jnp.bfloat16))


def _psnr(a, b) -> float:
  return float(10 * np.log10(1.0 / np.mean((np.clip(a, 0, 1) - np.clip(b, 0, 1)) ** 2)))


def test_tiny_rrdbnet_on_onednn_convs_is_within_45_db_of_float32(library):
  module, params = tiny_generator(scale=4)
  photo = photo_pairs(32)[0][:1]  # astronaut
  fp32 = np.asarray(jax.jit(module.apply)({'params': params}, photo))
  forward = jax.jit(module.clone(dtype=jnp.bfloat16, dense_block=OneDNNDenseBlock).apply)
  assert onednn_conv.TARGET in forward.lower({'params': params}, photo).as_text()  # the convs are the custom call
  ours = np.asarray(forward({'params': params}, photo), np.float32)
  assert ours.shape == fp32.shape == (1, 128, 128, 3)
  assert _psnr(ours, fp32) >= 45


def test_upscaling_in_bf16_on_cpu_runs_the_dense_blocks_on_onednn_where_chosen(onednn_chosen):
  module, params = tiny_generator(scale=4)
  bf16 = module.clone(dtype=jnp.bfloat16)
  assert apply.cpu_whole_batch_module(bf16).dense_block is OneDNNDenseBlock
  assert apply.cpu_whole_batch_module(bf16, onednn=False).dense_block is module.dense_block
  assert apply.cpu_whole_batch_module(module).dense_block is not OneDNNDenseBlock  # float32 never
  assert apply.tiles_per_call(bf16, jax.local_devices()) == 1  # oneDNN spreads each conv over the cores itself
  photo = photo_pairs(32)[0][:2]
  whole = np.asarray(apply.make_apply_fn(bf16, params)(photo))  # a batch of 2: whole on one device, not split
  single = np.asarray(jax.jit(bf16.clone(dense_block=OneDNNDenseBlock).apply)({'params': params}, photo), np.float32)
  np.testing.assert_allclose(whole, single, atol=2e-2)


def test_module_keeps_layers_conv_params(library):
  x = jnp.asarray(np.random.default_rng(2).random((1, 6, 6, 5)), jnp.bfloat16)
  conv, ours = layers.Conv(7, dtype=jnp.bfloat16), OneDNNConv(7, dtype=jnp.bfloat16)
  variables = conv.init(jax.random.key(0), x)
  assert jax.tree.map(jnp.shape, ours.init(jax.random.key(0), x)) == jax.tree.map(jnp.shape, variables)
  np.testing.assert_allclose(
    np.asarray(ours.apply(variables, x), np.float32), np.asarray(conv.apply(variables, x), np.float32), atol=2e-2
  )
  float32 = OneDNNConv(7)  # other compute dtypes: layers.Conv's own code
  np.testing.assert_array_equal(float32.apply(variables, x.astype(jnp.float32)), layers.Conv(7).apply(variables, x))


def test_a_cpu_without_bf16_units_keeps_xla_convs_and_says_so_once(monkeypatch, fresh_choice, caplog):
  monkeypatch.setattr(onednn_conv, 'cpu_flags', lambda: frozenset({'avx2'}))
  module, _ = tiny_generator(scale=4)
  with caplog.at_level(logging.INFO):
    for _ in range(2):
      assert apply.cpu_whole_batch_module(module.clone(dtype=jnp.bfloat16)).dense_block is module.dense_block
  lines = [r.getMessage() for r in caplog.records if 'bf16 convolutions' in r.getMessage()]
  assert lines == ['bf16 convolutions: XLA, computed in float32 (the CPU has neither AMX nor AVX512-BF16)']


def test_choice_logs_a_missing_compiler_in_one_line(monkeypatch, fresh_choice, tmp_path, caplog):
  monkeypatch.setattr(onednn_conv, 'cpu_flags', lambda: frozenset({'avx512_bf16'}))
  monkeypatch.setenv(build.DIR_ENV, str(tmp_path))  # nothing built there
  monkeypatch.setenv('CXX', str(tmp_path / 'no-such-compiler'))
  onednn_conv.load_library.cache_clear()
  try:
    with caplog.at_level(logging.INFO):
      assert (
        onednn_conv.choice()
        == onednn_conv.choice()
        == Choice(False, f'no C++ compiler: {tmp_path}/no-such-compiler is not on PATH (set $CXX)')
      )
  finally:
    onednn_conv.load_library.cache_clear()
  assert [r.levelname for r in caplog.records if 'bf16 convolutions' in r.getMessage()] == ['WARNING']
