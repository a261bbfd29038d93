"""esrgan_jax.data.quiet_tensorflow: TensorFlow's load-time INFO lines (the oneDNN notice some CPUs get) stay off
stderr, whatever CPU runs the test: a stand-in `tensorflow` module prints them as TF 2.21 does on Intel Xeons."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE_TENSORFLOW = """
import os
os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')
os.write(2, b'I0000 00:00:1796593388.269640    8408 port.cc:153] oneDNN custom operations are on.\\n')
os.write(2, b'W0000 00:00:1796593388.3 cuda.cc:1] a real warning\\n')
print('LEVEL', os.environ.get('TF_CPP_MIN_LOG_LEVEL'))
"""


def import_fake_tensorflow(tmp_path, **env_vars) -> subprocess.CompletedProcess:
  (tmp_path / 'tensorflow.py').write_text(FAKE_TENSORFLOW)
  env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
  env.update(PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]), **env_vars)
  code = 'from esrgan_jax.data import quiet_tensorflow; quiet_tensorflow.import_tensorflow()'
  return subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=120)


def test_load_time_info_lines_are_held_back_and_warnings_kept(tmp_path):
  result = import_fake_tensorflow(tmp_path)
  assert result.returncode == 0, result.stderr
  assert result.stderr == 'W0000 00:00:1796593388.3 cuda.cc:1] a real warning\n'
  assert result.stdout == 'LEVEL 2\n'


@pytest.mark.parametrize('level, kept', [('0', 3), ('1', 1)])
def test_a_users_log_level_is_respected(tmp_path, level, kept):
  result = import_fake_tensorflow(tmp_path, TF_CPP_MIN_LOG_LEVEL=level)
  assert result.stdout == f'LEVEL {level}\n' and len(result.stderr.splitlines()) == kept, result.stderr
