"""RRDBNet, the ESRGAN generator (Wang et al. 2018), laid out like BasicSR's `RRDBNet`.

Parameter names follow BasicSR (`conv_first`, `body_{i}/rdb{k}/conv{j}`, `conv_body`, `conv_up1`, `conv_up2`, ...,
`conv_hr`, `conv_last`), so official weights map one to one (see `esrgan_jax.weights.rrdbnet_state_dict`). `use_bn=True`
adds a BatchNorm `bn{j}` after each RDB conv (the paper's with-BN ablation); fold them with
`esrgan_jax.models.fold_batch_norm`. `esrgan_plus=True` adds ESRGAN+'s extra residual paths (`rdb{k}/conv1x1`).
"""

import functools
import re
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from esrgan_jax.models.layers import (
  Conv,
  batch_norm,
  check_nhwc,
  kaiming_normal_init,
  lrelu,
  pixel_unshuffle,
  upsample_nearest,
)

ModuleDef = Callable[..., nn.Module]  # a module class, or a functools.partial of one (as flax's imagenet example)
UNSHUFFLE_FACTORS = (1, 2, 4)  # pixel-unshuffle of the input: none, Real-ESRGAN's x2 and x1 models
BODY = 'body'  # the RRDB blocks: body_{i} each, or all stacked under `body` with `scan_blocks`


def default_num_upsample(scale: int) -> int:
  """Upsampling stages of an RRDBNet whose `num_upsample` is None: 2 up to x4 (x2 and x1 pixel-unshuffle the input,
  as Real-ESRGAN's models do), log2(scale) above."""
  return max(2, scale.bit_length() - 1)


def unshuffle_factor(scale: int, num_upsample: int) -> int:
  """The pixel-unshuffle factor 2**num_upsample / scale; ValueError unless it is 1, 2 or 4."""
  factor, remainder = divmod(2**num_upsample, scale) if scale >= 1 else (0, 1)
  if remainder or factor not in UNSHUFFLE_FACTORS:
    raise ValueError(
      f'RRDBNet with {num_upsample} x2 upsampling stages cannot upscale x{scale}: 2**num_upsample / scale must be '
      f'1, 2 or 4 (the pixel-unshuffle of the input). Set num_upsample to log2(scale), or leave it None.'
    )
  return factor


class ResidualDenseBlock(nn.Module):
  """Five densely connected 3x3 convs; returns `conv5(...) * res_scale + x`. x: [B, H, W, num_feat].

  With `use_bn`, BatchNorm `bn{j}` follows conv{j} (before the LeakyReLU, and before the residual scaling for j = 5).
  `esrgan_plus` (ESRGAN+, Rakotonirina & Rasoanaivo 2020) adds a bias-free 1x1 conv `conv1x1` of x to x2 (after its
  LeakyReLU) and that sum to x4. Other implementations of the same block (same params, other ways to compute the
  convs) override `hold` and `dense_conv`; RRDBNet takes the one to run as its `dense_block`.
  """

  num_feat: int = 64
  num_grow_ch: int = 32
  res_scale: float = 0.2
  init_scale: float = 0.1
  use_bn: bool = False
  esrgan_plus: bool = False
  dtype: Any = None
  param_dtype: Any = jnp.float32

  def conv_fields(self) -> dict[str, Any]:
    """The constructor fields of the block's 3x3 convs but `features` and `name` (the RDB init, the dtypes)."""
    return dict(kernel_init=kaiming_normal_init(self.init_scale), dtype=self.dtype, param_dtype=self.param_dtype)

  def hold(self, feature: jax.Array) -> Any:
    """How the block keeps x, x1, .., x4 for the convs that read them: as they are here."""
    return feature

  def dense_conv(self, features: int, name: str, held: list[Any]) -> jax.Array:
    """The 3x3 conv `name` of the features held so far, concatenated on channels (torch's order x, x1, x2, ...)."""
    return Conv(features, name=name, **self.conv_fields())(jnp.concatenate(held, axis=-1))

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)

    def conv(features: int, j: int) -> jax.Array:
      out = self.dense_conv(features, f'conv{j}', held)
      return batch_norm(train, f'bn{j}', **kw)(out) if self.use_bn else out

    outs, held = [x], [self.hold(x)]
    for j in range(1, 5):
      out = lrelu(conv(self.num_grow_ch, j))
      if self.esrgan_plus and j == 2:
        out = out + Conv(
          self.num_grow_ch,
          1,
          padding=0,
          use_bias=False,
          kernel_init=kaiming_normal_init(self.init_scale),
          name='conv1x1',
          **kw,
        )(x)
      if self.esrgan_plus and j == 4:
        out = out + outs[2]
      outs.append(out)
      held.append(self.hold(out))
    return conv(self.num_feat, 5) * self.res_scale + x


class RRDB(nn.Module):
  """Residual-in-residual dense block: three dense blocks `rdb1`..`rdb3` (`dense_block(name=...)`, its fields set),
  then `out * res_scale + x`."""

  dense_block: ModuleDef
  res_scale: float = 0.2

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    out = x
    for k in range(1, 4):
      out = self.dense_block(name=f'rdb{k}')(out, train)
    return out * self.res_scale + x


class RRDBNet(nn.Module):
  """ESRGAN generator. x: [B, H, W, num_in_ch] in [0, 1] -> [B, H*scale, W*scale, num_out_ch] (not clipped).

  The trunk upsamples by 2**num_upsample (each stage: nearest x2, conv `conv_up{n}`, LeakyReLU). With
  `num_upsample=None` that is 2 stages up to x4, log2(scale) above, and `scale` 2 and 1 pixel-unshuffle the input by
  2 and 4 first (Real-ESRGAN's x2/x1 models), so H and W must be divisible by 2 (scale 2) or 4 (scale 1). Models
  without pixel-unshuffle at x2 or x1 (BSRGAN x2, the old ESRGAN x1 models) set `num_upsample` to 1 or 0; any power
  of two with 2**num_upsample / scale in (1, 2, 4) works. `esrgan_plus` adds ESRGAN+'s 1x1 convs to every RDB.
  `init_scale` multiplies the Kaiming init of the RDB convs (all other convs keep PyTorch's default init); `res_scale`
  is the residual scaling beta. `train` matters only with `use_bn` (batch statistics; mark `batch_stats` mutable).

  How to run it, never stored in model files (`esrgan_jax.weights.model_io.RUNTIME_FIELDS`): `dtype` is the compute
  dtype (e.g. bfloat16), `param_dtype` the storage dtype of the params. `dense_block` is the implementation of the
  dense blocks, `ResidualDenseBlock` or another with the same params that entry points choose for the platform
  (`esrgan_jax.runtime.for_platform`, `esrgan_jax.inference.apply.cpu_whole_batch_module`). `remat` recomputes each
  RRDB's activations in the backward pass instead of keeping them (`jax.checkpoint`): less memory, the same params
  and results. `scan_blocks` runs the blocks as one `nn.scan` over a single RRDB (rematerialised with `remat`), so
  XLA compiles one block instead of `num_block`; its params (and batch_stats) are then stacked under `body` with a
  leading `num_block` axis instead of `body_0`..`body_{num_block-1}` (convert with `stack_blocks` /
  `unstack_blocks`). What each choice costs or saves per machine: benchmarks/RESULTS.md.
  """

  num_in_ch: int = 3
  num_out_ch: int = 3
  scale: int = 4
  num_feat: int = 64
  num_block: int = 23
  num_grow_ch: int = 32
  res_scale: float = 0.2
  init_scale: float = 0.1
  use_bn: bool = False
  num_upsample: int | None = None
  esrgan_plus: bool = False
  dense_block: ModuleDef = ResidualDenseBlock
  remat: bool = False
  scan_blocks: bool = False
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @property
  def upsample_stages(self) -> int:
    """The number of x2 upsampling stages: `num_upsample`, or `default_num_upsample(scale)` when it is None."""
    return default_num_upsample(self.scale) if self.num_upsample is None else self.num_upsample

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    if self.scale < 1 or self.scale & (self.scale - 1):
      raise ValueError(f'RRDBNet scale must be a power of two (1, 2, 4, 8, 16, ...), got {self.scale}.')
    factor = unshuffle_factor(self.scale, self.upsample_stages)
    check_nhwc(x, self.num_in_ch, 'RRDBNet')
    conv = lambda features, name: Conv(features, dtype=self.dtype, param_dtype=self.param_dtype, name=name)
    if factor > 1:
      x = pixel_unshuffle(x, factor)
    feat = conv(self.num_feat, 'conv_first')(x)
    dense_block = functools.partial(
      self.dense_block,
      num_feat=self.num_feat,
      num_grow_ch=self.num_grow_ch,
      res_scale=self.res_scale,
      init_scale=self.init_scale,
      use_bn=self.use_bn,
      esrgan_plus=self.esrgan_plus,
      dtype=self.dtype,
      param_dtype=self.param_dtype,
    )
    block = nn.remat(RRDB, static_argnums=(2,)) if self.remat else RRDB  # argnum 2: `train` (0 is the module)
    if self.scan_blocks:
      scan = nn.scan(
        lambda module, carry, _: (module(carry, train), None),
        variable_axes={True: 0},  # every collection (params, batch_stats) stacked on a leading block axis
        split_rngs={'params': True},
        length=self.num_block,
      )
      body, _ = scan(block(dense_block, self.res_scale, name=BODY), feat, None)
    else:
      body = feat
      for i in range(self.num_block):
        body = block(dense_block, self.res_scale, name=f'{BODY}_{i}')(body, train)
    feat = feat + conv(self.num_feat, 'conv_body')(body)
    for n in range(1, self.upsample_stages + 1):
      feat = lrelu(conv(self.num_feat, f'conv_up{n}')(upsample_nearest(feat)))
    return conv(self.num_out_ch, 'conv_last')(lrelu(conv(self.num_feat, 'conv_hr')(feat)))


def stack_blocks(tree: dict[str, Any], num_block: int) -> dict[str, Any]:
  """One collection of RRDBNet variables (params or batch_stats) with `body_0`..`body_{num_block-1}` -> the
  `scan_blocks` layout: one `body` subtree whose leaves gain a leading [num_block] axis. A collection without blocks
  (e.g. the empty batch_stats of a net without BatchNorm) comes back unchanged. Host (numpy) leaves are stacked by
  numpy, on the host: no device programs compiled, no device copy."""
  names = [f'{BODY}_{i}' for i in range(num_block)]
  blocks = [k for k in tree if re.fullmatch(rf'{BODY}_\d+', k)]
  if not blocks:
    return tree
  if BODY in tree or sorted(blocks) != sorted(names):
    raise ValueError(
      f'Cannot stack the RRDB blocks: expected {names[0]}..{names[-1]} and no {BODY!r}, got keys {sorted(tree)}. '
      f'Is num_block ({num_block}) right, or is the tree already stacked?'
    )
  rest = {k: v for k, v in tree.items() if k not in names}
  stack = lambda *leaves: np.stack(leaves) if all(isinstance(x, np.ndarray) for x in leaves) else jnp.stack(leaves)
  return {**rest, BODY: jax.tree.map(stack, *(tree[name] for name in names))}


def unstack_blocks(tree: dict[str, Any]) -> dict[str, Any]:
  """Inverse of `stack_blocks`: `body` (leaves [num_block, ...]) -> `body_0`..`body_{num_block-1}`. A collection
  without `body` comes back unchanged."""
  if BODY not in tree:
    return tree
  rest = {k: v for k, v in tree.items() if k != BODY}
  num_block = jax.tree.leaves(tree[BODY])[0].shape[0]
  return {**rest, **{f'{BODY}_{i}': jax.tree.map(lambda leaf, i=i: leaf[i], tree[BODY]) for i in range(num_block)}}
