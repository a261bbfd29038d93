"""TPU slice names: parsing, Cloud names (v4/v5p count TensorCores), chip counts."""

import pytest

from esrgan_jax.planning import chips, topology


@pytest.mark.parametrize(
  'text, cloud, count, libtpu',
  [
    ('v5e:16x16', 'v5e-256', 256, 'v5e:16x16'),
    ('v4:2x2x4', 'v4-32', 16, 'v4:2x2x4'),
    ('v5p:4x4x4', 'v5p-128', 64, 'v5:4x4x4'),
    ('v6e:8x8', 'v6e-64', 64, 'v6e:8x8'),
  ],
)
def test_parse(text, cloud, count, libtpu):
  t = topology.parse(text)
  assert (t.cloud_name, t.chips, t.libtpu_name) == (cloud, count, libtpu)
  assert t.generation in chips.CHIPS


def test_multi_slice_counts_all_chips():
  t = topology.parse('v5e:2x2', num_slices=3)
  assert t.chips == 12 and str(t) == '3 x v5e-4 (v5e:2x2)'


@pytest.mark.parametrize('text', ['v5e-256', 'v3:4x4', 'v5e:16', 'v5e:2x2x2x2'])
def test_bad_names_say_the_form(text):
  with pytest.raises(ValueError, match='GENERATION:AxB'):
    topology.parse(text)
