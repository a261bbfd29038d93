"""planning/report.py without compiling: the HBM check against what a jax process may use of the chip."""

from esrgan_jax.planning import chips, report

GIB = 2**30


def test_a_gpu_step_between_jax_share_and_full_hbm_does_not_fit():
  h100 = chips.CHIPS['h100']  # 74.51 GiB, of which jax's allocator takes 0.75 by default
  memory = {'total': int(0.8 * h100.hbm_bytes)}
  [problem] = report.fit_problems(memory, h100, {})
  assert 'jax may use 55.88 of its 74.51 GiB' in problem and 'XLA_PYTHON_CLIENT_ALLOCATOR=platform' in problem
  assert report.fit_problems(memory, h100, {'XLA_PYTHON_CLIENT_ALLOCATOR': 'platform'}) == []
  assert report.fit_problems(memory, h100, {'XLA_PYTHON_CLIENT_MEM_FRACTION': '0.9'}) == []


def test_a_tpu_step_fits_up_to_all_its_hbm():
  v5e = chips.CHIPS['v5e']
  assert report.fit_problems({'total': v5e.hbm_bytes}, v5e, {'XLA_PYTHON_CLIENT_MEM_FRACTION': '0.5'}) == []
  [problem] = report.fit_problems({'total': v5e.hbm_bytes + GIB}, v5e, {})
  assert problem == 'needs 15.90 GiB per chip, the chip has 14.90 GiB'
