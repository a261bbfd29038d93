"""Super-resolution architectures esrgan_jax recognises by their state-dict keys but cannot run.

Users bring files from model databases such as OpenModelDB, where SPAN, DAT, SwinIR, OmniSR and (Real)PLKSR models
sit next to the ESRGAN family. Each family is told apart by a few keys only it has (the same module names that
spandrel, chaiNNer's loader, looks for), so a converter can say "this is a SwinIR model" instead of listing hundreds
of unknown keys.
"""

from collections.abc import Iterable

# Family -> keys that all appear in its state dicts (first match wins: HAT's blocks also have SwinIR's keys).
UNSUPPORTED_FAMILIES = {
  'HAT': ('conv_first.weight', 'relative_position_index_SA', 'layers.0.residual_group.overlap_attn.qkv.weight'),
  'SwinIR': (
    'layers.0.residual_group.blocks.0.norm1.weight',
    'layers.0.residual_group.blocks.0.attn.relative_position_index',
  ),
  'DAT': ('conv_first.weight', 'before_RG.1.weight', 'layers.0.blocks.0.attn.qkv.weight'),
  'SPAN': ('conv_1.sk.weight', 'block_1.c1_r.sk.weight', 'conv_cat.weight', 'upsampler.0.weight'),
  'OmniSR': ('input.weight', 'residual_layer.0.residual_layer.0.layer.0.fn.0.weight', 'up.0.weight'),
  '(Real)PLKSR': ('feats.0.weight', 'feats.1.refine.weight'),
  'Real-CUGAN': ('unet1.conv1.conv.0.weight', 'unet2.conv1.conv.0.weight'),
}


def unsupported_family(keys: Iterable[str]) -> str | None:
  """The name of the first `UNSUPPORTED_FAMILIES` entry whose keys all appear in `keys`, else None."""
  present = set(keys)
  return next((family for family, needed in UNSUPPORTED_FAMILIES.items() if set(needed) <= present), None)
