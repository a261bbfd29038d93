"""esrgan_jax.training.history_log: after a resume history.jsonl records each step once."""

import json

from esrgan_jax.training import history_log


def records(*steps):
  return ''.join(json.dumps({'step': s, 'l_pix': s / 10}) + '\n' for s in steps)


def test_records_past_the_restored_step_and_a_cut_line_are_dropped(tmp_path):
  path = tmp_path / 'history.jsonl'
  path.write_text(records(1, 2, 3, 4, 5, 6) + '{"step": 7, "l_p')  # killed at step 7, checkpoint at step 4
  with history_log.open_for_append(path, resumed_step=4) as f:
    f.write(records(5))
  assert path.read_text() == records(1, 2, 3, 4, 5)


def test_a_file_without_extra_records_is_kept_and_a_fresh_start_empties_it(tmp_path):
  path = tmp_path / 'history.jsonl'
  path.write_text(records(1, 2))
  history_log.open_for_append(path, resumed_step=2).close()
  assert path.read_text() == records(1, 2)
  history_log.open_for_append(path, resumed_step=0).close()  # killed before the first checkpoint
  assert path.read_text() == ''
  history_log.open_for_append(tmp_path / 'new.jsonl', resumed_step=0).close()
  assert (tmp_path / 'new.jsonl').read_text() == ''
