"""SRVGGNetCompact against a torch reference written from Real-ESRGAN's description, for every activation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax.models.srvgg import SRVGGNetCompact
from esrgan_jax.weights.generator_state_dicts import generator_to_torch

torch = pytest.importorskip('torch')
from helpers import assert_close, images, random_variables, torch_apply
from torch_archs import TorchSRVGGNetCompact  # noqa: E402  (needs torch)


@pytest.mark.parametrize(('act_type', 'scale'), [('prelu', 2), ('leakyrelu', 3), ('relu', 4)])
def test_matches_torch_for_every_activation(act_type, scale):
  module = SRVGGNetCompact(scale=scale, num_feat=8, num_conv=2, act_type=act_type)
  params = random_variables(module, (1, 8, 8, 3))['params']
  net = TorchSRVGGNetCompact(num_feat=8, num_conv=2, upscale=scale, act_type=act_type).eval()
  net.load_state_dict({k: torch.from_numpy(v) for k, v in generator_to_torch(module, params).items()}, strict=True)
  x = images((2, 5, 7, 3))
  out = module.apply({'params': params}, x)
  assert out.shape == (2, 5 * scale, 7 * scale, 3)
  assert_close(out, torch_apply(net, x))


def test_params_follow_real_esrgan_body_indices():
  module = SRVGGNetCompact(num_feat=64, num_conv=32)
  shapes = jax.eval_shape(module.init, jax.random.key(0), jax.ShapeDtypeStruct((1, 8, 8, 3), np.float32))['params']
  assert sorted(shapes, key=lambda name: int(name[5:])) == [f'body_{i}' for i in range(67)]
  assert shapes['body_1']['negative_slope'].shape == (64,)
  assert shapes['body_66']['kernel'].shape == (3, 3, 64, 48)
  assert sum(np.prod(x.shape) for x in jax.tree.leaves(shapes)) == 1_213_296  # realesr-general-x4v3


def test_bfloat16_compute_keeps_float32_params():
  module = SRVGGNetCompact(scale=2, num_feat=8, num_conv=1, dtype=jnp.bfloat16)
  variables = module.init(jax.random.key(0), jnp.zeros((1, 6, 6, 3)))
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(variables))
  assert module.apply(variables, jnp.zeros((1, 6, 6, 3))).dtype == jnp.bfloat16


@pytest.mark.parametrize(
  ('fields', 'message'),
  [
    (dict(act_type='gelu'), "act_type must be one of .*'gelu'"),
    (dict(num_out_ch=1), r'num_out_ch \(1\) must equal num_in_ch \(3\)'),
    (dict(scale=0), 'scale must be an integer >= 1'),
  ],
)
def test_rejects_bad_configs(fields, message):
  with pytest.raises(ValueError, match=message):
    SRVGGNetCompact(num_feat=8, num_conv=1, **fields).init(jax.random.key(0), jnp.zeros((1, 6, 6, 3)))
