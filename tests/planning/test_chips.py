"""planning/chips.py: the HBM a jax process may use per chip."""

import pytest

from esrgan_jax.planning import chips


def test_a_tpu_chip_offers_all_its_hbm():
  assert chips.usable_hbm_bytes(chips.CHIPS['v5e'], {'XLA_PYTHON_CLIENT_MEM_FRACTION': '0.5'}) == (
    chips.CHIPS['v5e'].hbm_bytes,
    '',
  )


@pytest.mark.parametrize(
  ('environ', 'share'),
  [({}, 0.75), ({'XLA_PYTHON_CLIENT_MEM_FRACTION': '.9'}, 0.9), ({'XLA_PYTHON_CLIENT_ALLOCATOR': 'platform'}, 1.0)],
)
def test_a_gpu_offers_the_share_jax_allocates(environ, share):
  h100 = chips.CHIPS['h100']
  usable, why = chips.usable_hbm_bytes(h100, environ)
  assert usable == pytest.approx(share * h100.hbm_bytes)
  assert ('XLA_PYTHON_CLIENT_MEM_FRACTION' in why) == (share < 1)


@pytest.mark.parametrize('text', ['lots', '0', '1.5'])
def test_a_bad_memory_fraction_is_named(text):
  with pytest.raises(ValueError, match=f'XLA_PYTHON_CLIENT_MEM_FRACTION={text}'):
    chips.usable_hbm_bytes(chips.CHIPS['h100'], {'XLA_PYTHON_CLIENT_MEM_FRACTION': text})
