"""Tests for esrgan_jax.user_dirs: the XDG data and cache folders, their defaults and `~` expansion."""

from pathlib import Path

from esrgan_jax import user_dirs


def test_xdg_variables_name_the_folders_and_their_defaults_are_under_home(monkeypatch):
  monkeypatch.setenv('HOME', '/home/u')
  assert user_dirs.data_dir({}) == Path('/home/u/.local/share/esrgan_jax')
  assert user_dirs.cache_dir({'XDG_CACHE_HOME': ''}) == Path('/home/u/.cache/esrgan_jax')  # empty: unset
  assert user_dirs.data_dir({'XDG_DATA_HOME': '/d'}) == Path('/d/esrgan_jax')
  assert user_dirs.cache_dir({'XDG_CACHE_HOME': '~/c', 'XDG_DATA_HOME': '/d'}) == Path('/home/u/c/esrgan_jax')
  monkeypatch.setenv('XDG_DATA_HOME', '/from/os/environ')
  assert user_dirs.data_dir() == Path('/from/os/environ/esrgan_jax')
