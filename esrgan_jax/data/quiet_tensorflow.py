"""TensorFlow, imported without the INFO notices its C++ libraries print while they load.

On some CPUs (Intel Xeon with AVX-512/AMX here) TensorFlow 2.21 writes `WARNING: All log messages before
absl::InitializeLog() is called are written to STDERR` and an `I0000 ... oneDNN custom operations are on` line to
stderr, twice, while `import tensorflow` loads its libraries; TF_CPP_MIN_LOG_LEVEL does not reach those lines, so
`import_tensorflow()` holds back exactly them and passes every other line on. It sets TF_CPP_MIN_LOG_LEVEL=2 (INFO
and WARNING records after the load) unless the user set it; a user's TF_CPP_MIN_LOG_LEVEL=0 keeps every line.
`keep_accelerators_for_jax` leaves the GPUs to JAX.
"""

import os
import re
import sys
import tempfile
from types import ModuleType

# The lines TensorFlow's libraries print at load: absl's preamble and INFO records ('I' + MMDD ...).
_LOAD_NOTICE = re.compile(r'WARNING: All log messages before absl::InitializeLog\(\)|I\d{4} \d\d:\d\d:\d\d')


def import_tensorflow() -> ModuleType:
  """`import tensorflow`, with TF_CPP_MIN_LOG_LEVEL=2 (unless set) and its load-time INFO lines left out of stderr."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  if 'tensorflow' in sys.modules or os.environ['TF_CPP_MIN_LOG_LEVEL'] == '0':
    import tensorflow  # pylint: disable=g-import-not-at-top

    return tensorflow
  with tempfile.TemporaryFile() as captured:
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(captured.fileno(), 2)
    try:
      import tensorflow  # pylint: disable=g-import-not-at-top
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      lines = captured.read().decode(errors='replace').splitlines(keepends=True)
      sys.stderr.write(''.join(line for line in lines if not _LOAD_NOTICE.match(line)))
  return tensorflow


def keep_accelerators_for_jax() -> None:
  """Hides GPUs from TensorFlow, which only runs tf.data here, so JAX gets all of their memory. Call it before TF
  touches a GPU; later calls (TF already initialised) change nothing."""
  tf = import_tensorflow()
  try:
    tf.config.set_visible_devices([], 'GPU')
  except RuntimeError:  # devices already initialised: too late to hide them, and nothing else to do
    pass
