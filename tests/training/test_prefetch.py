import pytest

from esrgan_jax.training.prefetch import prefetch_to_device


def test_prefetch_keeps_order_and_transfers_ahead():
  started = []

  def transfer(batch):
    started.append(batch)
    return batch * 10

  batches = prefetch_to_device(iter(range(5)), transfer, size=2)
  assert next(batches) == 0 and started == [0, 1]  # batch 1 is on its way while batch 0's step runs
  assert next(batches) == 10 and started == [0, 1, 2]
  assert list(batches) == [20, 30, 40] and started == [0, 1, 2, 3, 4]


def test_prefetch_rejects_bad_size():
  with pytest.raises(ValueError, match='prefetch size must be >= 1'):
    next(prefetch_to_device([1], lambda b: b, size=0))
