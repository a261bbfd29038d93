"""esrgan_jax.data.atomic_write: an output file is complete under its name, or absent (Ctrl-C mid-write included)."""

import pathlib

import numpy as np
import pytest

from esrgan_jax.data import atomic_write, image_io
from esrgan_jax.weights import model_io


def test_file_appears_only_when_the_body_finishes(tmp_path):
  target = tmp_path / 'out.png'
  with atomic_write.atomic_path(target) as partial:
    assert partial.parent == tmp_path and partial.suffix == '.png' and partial.name.startswith('.out.')
    partial.write_bytes(b'new')
    assert not target.exists()
  assert target.read_bytes() == b'new' and sorted(tmp_path.iterdir()) == [target]


def test_interrupted_body_keeps_the_old_file_and_leaves_no_partial(tmp_path):
  target = tmp_path / 'model.msgpack'
  target.write_bytes(b'old')
  with pytest.raises(KeyboardInterrupt):
    with atomic_write.atomic_path(target) as partial:
      partial.write_bytes(b'half')
      raise KeyboardInterrupt
  assert target.read_bytes() == b'old' and sorted(tmp_path.iterdir()) == [target]


def half_write_then_ctrl_c(self, data):
  """Stands for writing the encoded image interrupted by Ctrl-C after part of the file."""
  with open(self, 'wb') as f:
    f.write(data[: len(data) // 2])
  raise KeyboardInterrupt


def test_write_image_interrupted_leaves_no_truncated_image(tmp_path, monkeypatch):
  monkeypatch.setattr(pathlib.Path, 'write_bytes', half_write_then_ctrl_c)
  with pytest.raises(KeyboardInterrupt):
    image_io.write_image(tmp_path / 'x4.png', np.zeros((4, 4, 3), np.float32))
  assert list(tmp_path.iterdir()) == []


def test_model_file_interrupted_leaves_no_partial(tmp_path, monkeypatch):
  def interrupted(state):
    raise KeyboardInterrupt

  monkeypatch.setattr(model_io.serialization, 'msgpack_serialize', interrupted)
  with pytest.raises(KeyboardInterrupt):
    model_io.save_model(tmp_path / 'g.msgpack', 'SRVGGNetCompact', {}, {'params': {}})
  assert list(tmp_path.iterdir()) == []
