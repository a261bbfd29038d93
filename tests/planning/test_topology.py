"""Slice names: parsing, Cloud names (v4/v5p count TensorCores), chip counts; H100s of one host, their target
config."""

import re

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


def test_h100_names_gpus_of_one_host():
  t = topology.parse('h100:8')
  assert (t.platform, t.chips, t.cloud_name, str(t)) == ('cuda', 8, '8xH100', '8xH100 (h100:8)')
  assert topology.parse('v5e:2x2').platform == 'tpu'
  assert chips.CHIPS['h100'].interconnect == 'NVLink'


@pytest.mark.parametrize('text, num_slices', [('h100:9', 1), ('h100:0', 1), ('h100:2x4', 1), ('h100:8', 2)])
def test_bad_gpu_names_say_the_form(text, num_slices):
  with pytest.raises(ValueError, match='h100:N'):
    topology.parse(text, num_slices)


def test_h100_target_config_agrees_with_the_chip_row():
  """The device description XLA compiles for says what chips.CHIPS['h100'] says: device kind, HBM bandwidth, memory
  (usable, a little under 80 GiB and over the datasheet's 80 GB), and Hopper's SMs and compute capability 9.0."""
  text = topology.target_config('h100')
  fields = dict(re.findall(r'^\s*(\w+): (.+)$', text, re.MULTILINE))
  chip = chips.CHIPS['h100']
  assert fields['device_description_str'] == f'"{chip.device_kind}"'
  assert float(fields['memory_bandwidth']) == chip.hbm_bandwidth
  assert chip.hbm_bytes < int(fields['device_memory_size']) < 80 * chips.GIB
  assert (fields['core_count'], fields['platform_name']) == ('132', '"CUDA"')
  assert re.search(r'cuda_compute_capability \{\s*major: 9\s*minor: 0\s*\}', text)
