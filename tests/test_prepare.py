"""Tests for the esrgan_jax.prepare tool: arguments, output message and exit codes."""

import numpy as np
from PIL import Image

from esrgan_jax.prepare import main


def test_cli(tmp_path, capsys):
  (tmp_path / 'in').mkdir()
  Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / 'in' / 'a.png')
  assert (
    main(
      [
        '--input',
        str(tmp_path / 'in'),
        '--output',
        str(tmp_path / 'out'),
        '--crop',
        '20',
        '--step',
        '10',
        '--format',
        'tfrecord',
        '--num-shards',
        '2',
      ]
    )
    == 0
  )
  out = capsys.readouterr().out
  assert 'Wrote 9 sub-images' in out and "data.source = 'tfrecord'" in out
  assert main(['--input', str(tmp_path / 'missing'), '--output', str(tmp_path / 'out2')]) == 2
