"""Tests for esrgan_jax.upscale: the CLI's formats, folders, alpha, outscale, precision, errors and overwrite rules,
.pth models, --tile auto, the summary, the compilation cache and a --help that loads nothing heavy."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import random_params, tiny_generator
from PIL import Image

from esrgan_jax import runtime, upscale
from esrgan_jax.data.image_io import read_image_raw, write_image
from esrgan_jax.data.imresize import imresize
from esrgan_jax.inference import apply
from esrgan_jax.models.srresnet import MSRResNet
from esrgan_jax.weights import generator_files, generator_state_dicts, torch_io
from esrgan_jax.weights.model_io import save_generator

SCALE = 2
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope='module')
def generator(tmp_path_factory):
  """(path, module, params) of a tiny x2 RRDBNet saved as a generator file."""
  module, params = tiny_generator(SCALE)
  path = tmp_path_factory.mktemp('model') / 'tiny_x2.msgpack'
  save_generator(path, module, params)
  return path, module, params


def _pixels(shape, bits=8, seed=0):
  return np.random.default_rng(seed).integers(0, 2**bits, shape).astype(np.uint8 if bits == 8 else np.uint16)


def _network(generator, rgb):
  """Direct network output of float HW3 [0, 1], clipped (the reference for the CLI)."""
  _, module, params = generator
  return np.clip(np.asarray(jax.jit(module.apply)({'params': params}, rgb[None].astype(np.float32)))[0], 0, 1)


def _run(generator, *args):
  return upscale.main([*map(str, args), '--model', str(generator[0])])


def test_rgb_png_matches_the_network(generator, tmp_path):
  pixels = _pixels((12, 16, 3))
  Image.fromarray(pixels).save(tmp_path / 'a.png')
  assert _run(generator, '-i', tmp_path / 'a.png', '-o', tmp_path / 'out') == 0
  out, bits = read_image_raw(tmp_path / 'out' / 'a_out.png')
  assert bits == 8 and out.shape == (24, 32, 3)
  np.testing.assert_array_equal(out, np.round(_network(generator, pixels / 255.0) * 255))


def test_msrresnet_model_file(tmp_path):
  module = MSRResNet(scale=3, num_feat=8, num_block=1)
  generator = (tmp_path / 'srresnet_x3.msgpack', module, random_params(module))
  save_generator(*generator)
  pixels = _pixels((6, 10, 3))
  Image.fromarray(pixels).save(tmp_path / 'a.png')
  assert _run(generator, '-i', tmp_path / 'a.png', '-o', tmp_path / 'out') == 0
  out, _ = read_image_raw(tmp_path / 'out' / 'a_out.png')
  assert out.shape == (18, 30, 3)
  np.testing.assert_array_equal(out, np.round(_network(generator, pixels / 255.0) * 255))


def test_folder_is_recursive_with_suffix_and_ext(generator, tmp_path):
  (tmp_path / 'in' / 'sub').mkdir(parents=True)
  Image.fromarray(_pixels((8, 8, 3))).save(tmp_path / 'in' / 'a.png')
  Image.fromarray(_pixels((8, 12, 3), seed=1)).save(tmp_path / 'in' / 'sub' / 'b.jpg')
  (tmp_path / 'in' / 'readme.txt').write_text('not an image')
  assert _run(generator, '-i', tmp_path / 'in', '-o', tmp_path / 'auto') == 0
  assert sorted(p.relative_to(tmp_path / 'auto').as_posix() for p in (tmp_path / 'auto').rglob('*.*')) == [
    'a_out.png',
    'sub/b_out.jpg',
  ]
  assert _run(generator, '-i', tmp_path / 'in', '-o', tmp_path / 'png', '--suffix', '', '--ext', 'png') == 0
  assert sorted(p.relative_to(tmp_path / 'png').as_posix() for p in (tmp_path / 'png').rglob('*.*')) == [
    'a.png',
    'sub/b.png',
  ]
  assert Image.open(tmp_path / 'png' / 'sub' / 'b.png').size == (24, 16)


@pytest.mark.parametrize('name, shape', [('c16.png', (8, 12, 3)), ('g16.png', (8, 12)), ('c16.tif', (8, 12, 3))])
def test_16_bit_in_gives_16_bit_out(generator, tmp_path, name, shape):
  pixels = _pixels(shape, bits=16)
  write_image(tmp_path / name, pixels / 65535.0, bit_depth=16)
  assert _run(generator, '-i', tmp_path / name, '-o', tmp_path / 'out') == 0
  out, bits = read_image_raw(tmp_path / 'out' / name.replace('.', '_out.'))
  assert bits == 16 and out.dtype == np.uint16 and out.shape == (16, 24) + shape[2:]


def test_gray_in_gives_gray_out(generator, tmp_path):
  gray = _pixels((8, 12))
  Image.fromarray(gray).save(tmp_path / 'g.png')
  assert _run(generator, '-i', tmp_path / 'g.png', '-o', tmp_path / 'out') == 0
  out, _ = read_image_raw(tmp_path / 'out' / 'g_out.png')
  rgb = _network(generator, np.repeat(gray[..., None], 3, -1) / 255.0)
  assert out.shape == (16, 24)
  np.testing.assert_allclose(out, rgb @ [0.299, 0.587, 0.114] * 255, atol=0.5 + 1e-4)


@pytest.mark.parametrize('upsampler', ['bicubic', 'network'])
def test_rgba_alpha_is_upscaled_separately_and_saved_as_png(generator, tmp_path, upsampler):
  rgba = _pixels((8, 12, 4), seed=3)
  Image.fromarray(rgba).save(tmp_path / 'a.png')
  args = ['-i', tmp_path / 'a.png', '-o', tmp_path / 'out', '--ext', 'jpg', '--alpha-upsampler', upsampler]
  assert _run(generator, *args) == 0
  out, _ = read_image_raw(tmp_path / 'out' / 'a_out.png')  # jpg asked, png written: JPEG has no alpha
  alpha = rgba[..., 3] / 255.0
  if upsampler == 'bicubic':
    expected = np.clip(imresize(alpha, SCALE), 0, 1)
  else:
    expected = _network(generator, np.repeat(alpha[..., None], 3, -1)) @ [0.299, 0.587, 0.114]
  assert out.shape == (16, 24, 4)
  np.testing.assert_allclose(out[..., 3], expected * 255, atol=0.5 + 1e-4)
  np.testing.assert_array_equal(out[..., :3], np.round(_network(generator, rgba[..., :3] / 255.0) * 255))


def test_outscale_resizes_the_network_output(generator, tmp_path):
  pixels = _pixels((8, 12, 3))
  Image.fromarray(pixels).save(tmp_path / 'a.png')
  assert _run(generator, '-i', tmp_path / 'a.png', '-o', tmp_path / 'out', '--outscale', '3.5') == 0
  out, _ = read_image_raw(tmp_path / 'out' / 'a_out.png')
  expected = np.clip(imresize(_network(generator, pixels / 255.0), output_shape=(28, 42)), 0, 1)
  np.testing.assert_allclose(out, expected * 255, atol=0.5 + 1e-4)


def test_bf16_runs_the_module_in_bfloat16(generator, tmp_path, monkeypatch):
  Image.fromarray(_pixels((8, 12, 3))).save(tmp_path / 'a.png')
  dtypes = []
  load = generator_files.load_generator_file

  def spy(path, dtype=None):
    dtypes.append(dtype)
    return load(path, dtype=dtype)

  monkeypatch.setattr(generator_files, 'load_generator_file', spy)
  assert _run(generator, '-i', tmp_path / 'a.png', '-o', tmp_path / 'bf16', '--bf16') == 0
  assert _run(generator, '-i', tmp_path / 'a.png', '-o', tmp_path / 'fp32', '--fp32') == 0
  assert _run(generator, '-i', tmp_path / 'a.png', '-o', tmp_path / 'default') == 0
  assert dtypes == [jnp.bfloat16, None, None]
  bf16, _ = read_image_raw(tmp_path / 'bf16' / 'a_out.png')
  fp32, _ = read_image_raw(tmp_path / 'fp32' / 'a_out.png')
  assert np.abs(bf16.astype(int) - fp32).max() <= 8  # bfloat16 keeps 8 mantissa bits


def test_unreadable_file_is_reported_and_skipped(generator, tmp_path, capsys):
  (tmp_path / 'in').mkdir()
  Image.fromarray(_pixels((8, 8, 3))).save(tmp_path / 'in' / 'a.png')
  (tmp_path / 'in' / 'b.png').write_bytes(b'\x89PNG\r\n\x1a\n garbage')
  Image.fromarray(_pixels((8, 8, 3), seed=1)).save(tmp_path / 'in' / 'c.png')
  assert _run(generator, '-i', tmp_path / 'in', '-o', tmp_path / 'out') == 1
  assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['a_out.png', 'c_out.png']
  assert 'b.png' in capsys.readouterr().err


def test_overwriting_an_input_needs_overwrite(generator, tmp_path, capsys):
  Image.fromarray(_pixels((8, 8, 3))).save(tmp_path / 'a.png')
  before = (tmp_path / 'a.png').read_bytes()
  assert _run(generator, '-i', tmp_path / 'a.png', '-o', tmp_path, '--suffix', '') == 1
  assert (tmp_path / 'a.png').read_bytes() == before and '--overwrite' in capsys.readouterr().err
  assert _run(generator, '-i', tmp_path / 'a.png', '-o', tmp_path, '--suffix', '', '--overwrite') == 0
  assert Image.open(tmp_path / 'a.png').size == (16, 16)


def _compiled_forwards() -> int:
  forwards = {apply._forward, apply._split_forward(tuple(sorted(runtime.batch_split_compiler_options().items())))}
  return sum(forward._cache_size() for forward in forwards)


def test_tiled_run_shows_tile_progress_and_compiles_once(generator, tmp_path, capsys, monkeypatch):
  """By default a batch of tiles per call, one per device (conftest: 8 CPU devices), split over the devices."""
  pixels = _pixels((40, 44, 3))
  Image.fromarray(pixels).save(tmp_path / 'a.png')
  batches = []
  upscale_image = apply.upscale_image
  monkeypatch.setattr(
    apply, 'upscale_image', lambda *a, **kw: batches.append(kw['batch_tiles']) or upscale_image(*a, **kw)
  )
  compiled = _compiled_forwards()
  assert _run(generator, '-i', tmp_path / 'a.png', '-o', tmp_path / 'out', '--tile', '8', '--tile-pad', '4') == 0
  assert batches == [jax.local_device_count()] == [8]
  assert _compiled_forwards() == compiled + 1  # 20 windows in batches of 8, one shape
  assert 'tiles' in capsys.readouterr().err
  out, _ = read_image_raw(tmp_path / 'out' / 'a_out.png')
  # The receptive field exceeds this small overlap: close to, not equal to, the untiled output.
  assert np.abs(out - np.round(_network(generator, pixels / 255.0) * 255)).mean() < 2


def test_tiled_run_on_a_cpu_without_avx512_runs_one_tile_per_call(generator, tmp_path, monkeypatch):
  """There (whole-image inference flags) one window at a time runs the one-device Winograd program."""
  monkeypatch.setattr(runtime, 'runs_xla_convs', lambda: True)  # as after use_fast_cpu_flags chose YNN_OFF_FLAGS
  Image.fromarray(_pixels((20, 24, 3))).save(tmp_path / 'a.png')
  batches = []
  upscale_image = apply.upscale_image
  monkeypatch.setattr(
    apply, 'upscale_image', lambda *a, **kw: batches.append(kw['batch_tiles']) or upscale_image(*a, **kw)
  )
  assert _run(generator, '-i', tmp_path / 'a.png', '-o', tmp_path / 'out', '--tile', '8', '--tile-pad', '4') == 0
  assert batches == [1]


def test_bad_arguments(generator, tmp_path, capsys):
  with pytest.raises(SystemExit):
    _run(generator, '-i', tmp_path / 'missing.png', '-o', tmp_path / 'out')
  (tmp_path / 'empty').mkdir()
  assert _run(generator, '-i', tmp_path / 'empty', '-o', tmp_path / 'out') == 1
  Image.fromarray(_pixels((8, 8, 3))).save(tmp_path / 'a.png')
  assert upscale.main(['-i', str(tmp_path / 'a.png'), '-o', str(tmp_path), '--model', str(tmp_path / 'a.png')]) == 2
  assert 'Cannot load --model' in capsys.readouterr().err


def test_command_line_smoke(generator, tmp_path):
  Image.fromarray(_pixels((8, 8, 3))).save(tmp_path / 'a.png')
  cmd = [
    sys.executable,
    '-m',
    'esrgan_jax.upscale',
    '-i',
    str(tmp_path / 'a.png'),
    '-o',
    str(tmp_path / 'out'),
    '--model',
    str(generator[0]),
  ]
  subprocess.run(cmd, check=True, capture_output=True, timeout=300)
  assert Image.open(tmp_path / 'out' / 'a_out.png').size == (16, 16)


def test_pth_model_runs_directly_and_says_what_it_loaded(generator, tmp_path, capsys):
  _, module, params = generator
  torch_io.save_state_dict(
    tmp_path / 'net_g.pth', {'params_ema': generator_state_dicts.generator_to_torch(module, params)}
  )
  pixels = _pixels((12, 16, 3))
  Image.fromarray(pixels).save(tmp_path / 'a.png')
  args = ['-i', str(tmp_path / 'a.png'), '-o', str(tmp_path / 'out'), '--model', str(tmp_path / 'net_g.pth')]
  assert upscale.main(args) == 0
  stdout = capsys.readouterr().out
  assert 'Loaded RRDBNet(scale 2, 1 blocks, num_feat 8' in stdout and 'net_g.pth (PyTorch' in stdout
  assert '1 of 1 images done, 0 failed' in stdout and 's per input megapixel' in stdout
  out, _ = read_image_raw(tmp_path / 'out' / 'a_out.png')
  np.testing.assert_array_equal(out, np.round(_network(generator, pixels / 255.0) * 255))


def test_tile_auto_runs_whole_within_the_budget_and_tiles_beyond_it(generator, tmp_path, monkeypatch):
  tiles = []
  upscale_image = apply.upscale_image
  monkeypatch.setattr(
    apply,
    'upscale_image',
    lambda *a, tile, batch_tiles, **kw: (
      tiles.append((tile, batch_tiles)),
      upscale_image(*a, tile=tile, batch_tiles=batch_tiles, **kw),
    )[1],
  )
  pixels = _pixels((80, 72, 3))
  Image.fromarray(pixels).save(tmp_path / 'a.png')
  assert _run(generator, '-i', tmp_path / 'a.png', '-o', tmp_path / 'whole') == 0
  whole, _ = read_image_raw(tmp_path / 'whole' / 'a_out.png')
  np.testing.assert_allclose(whole, np.round(_network(generator, pixels / 255.0) * 255), rtol=0, atol=1)
  # 1e-4 GiB (107 kB) holds a window of 12 px of this net (672 bytes per pixel): the smallest tile, 32 px, it is,
  # one window per call (--tile auto), not one per device.
  args = ['-i', tmp_path / 'a.png', '-o', tmp_path / 'tiled', '--max-memory', '1e-4', '--tile-pad', '4']
  assert _run(generator, *args) == 0
  assert tiles == [(0, 1), (32, 1)]
  tiled, _ = read_image_raw(tmp_path / 'tiled' / 'a_out.png')
  assert np.abs(tiled.astype(int) - whole).mean() < 2


def test_summary_counts_failures(generator, tmp_path, capsys):
  (tmp_path / 'in').mkdir()
  Image.fromarray(_pixels((8, 8, 3))).save(tmp_path / 'in' / 'a.png')
  (tmp_path / 'in' / 'b.png').write_bytes(b'not a png')
  assert _run(generator, '-i', tmp_path / 'in', '-o', tmp_path / 'out') == 1
  assert '1 of 2 images done, 1 failed' in capsys.readouterr().out


def _python(code: str, **env: str) -> str:
  """Runs `code` in a fresh interpreter with this checkout first on the path; returns its stdout."""
  env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')]), **env}
  return subprocess.run(
    [sys.executable, '-c', code], env=env, check=True, capture_output=True, text=True, timeout=300
  ).stdout


def test_help_loads_no_jax_or_tensorflow():
  code = """
import runpy, sys
sys.argv = ['upscale', '--help']
try:
  runpy.run_module('esrgan_jax.upscale', run_name='__main__')
except SystemExit:
  pass
print('MODULES', sorted(m for m in ('jax', 'jaxlib', 'flax', 'tensorflow', 'torch', 'PIL') if m in sys.modules))
"""
  stdout = _python(code)
  assert '--max-memory' in stdout and '--no-compile-cache' in stdout
  assert stdout.splitlines()[-1] == 'MODULES []'


def test_second_run_on_the_same_size_compiles_nothing(generator, tmp_path):
  """Compilations counted by JAX's monitoring events: cache requests minus persistent-cache hits."""
  Image.fromarray(_pixels((12, 16, 3))).save(tmp_path / 'a.png')
  Image.fromarray(_pixels((12, 16, 3), seed=1)).save(tmp_path / 'b.png')
  code = f"""
import json, sys
import jax
events = []
jax.monitoring.register_event_listener(lambda event, **unused_kwargs: events.append(event))
from esrgan_jax import upscale
code = upscale.main(['-i', sys.argv[1], '-o', {str(tmp_path / 'out')!r}, '--model', {str(generator[0])!r}])
requests = events.count('/jax/compilation_cache/compile_requests_use_cache')
hits = events.count('/jax/compilation_cache/cache_hits')
print(json.dumps(dict(code=code, requests=requests, compiled=requests - hits)))
"""
  cache = tmp_path / 'cache'
  runs = []
  for name in ('a.png', 'b.png'):
    stdout = _python(code.replace('sys.argv[1]', repr(str(tmp_path / name))), ESRGAN_JAX_COMPILE_CACHE=str(cache))
    runs.append(json.loads(stdout.splitlines()[-1]))
  assert runs[0]['code'] == runs[1]['code'] == 0
  assert runs[0]['compiled'] > 0 and any(cache.iterdir())
  assert runs[1]['requests'] > 0 and runs[1]['compiled'] == 0


def test_output_that_is_a_file_is_refused_before_the_model_loads(generator, tmp_path, capsys):
  Image.fromarray(_pixels((8, 8, 3))).save(tmp_path / 'a.png')
  (tmp_path / 'taken').write_text('a file')
  with pytest.raises(SystemExit) as exit_info:
    _run(generator, '-i', tmp_path / 'a.png', '-o', tmp_path / 'taken')
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert f'-o {tmp_path / "taken"} is a file, not a folder' in err and 'Loaded' not in err


def test_ctrl_c_between_images_prints_a_summary_and_exits_130(generator, tmp_path, capsys, monkeypatch):
  (tmp_path / 'in').mkdir()
  for i in range(3):
    Image.fromarray(_pixels((8, 8, 3), seed=i)).save(tmp_path / 'in' / f'{i}.png')
  upscale_file = upscale._upscale_file

  def interrupted_at_the_second(in_path, *args):
    if in_path.name == '1.png':
      raise KeyboardInterrupt
    return upscale_file(in_path, *args)

  monkeypatch.setattr(upscale, '_upscale_file', interrupted_at_the_second)
  assert _run(generator, '-i', tmp_path / 'in', '-o', tmp_path / 'out') == 130
  out, err = capsys.readouterr()
  assert 'interrupted\n' in err and 'Traceback' not in err
  assert '1 of 3 images done, 0 failed' in out
  assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['0_out.png']


def png_header_only(width: int, height: int) -> bytes:
  """A PNG whose IHDR declares width x height RGB pixels, with one tiny IDAT (a decompression bomb's header)."""
  import struct
  import zlib

  def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))

  ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
  return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b'\0' * 64)) + chunk(b'IEND', b'')


def test_hostile_files_in_a_folder_are_skipped_and_the_rest_written(generator, tmp_path, capsys):
  (tmp_path / 'in').mkdir()
  Image.fromarray(_pixels((8, 8, 3))).save(tmp_path / 'in' / 'good.png')
  (tmp_path / 'in' / 'bomb.png').write_bytes(png_header_only(100_000, 100_000))
  good = (tmp_path / 'in' / 'good.png').read_bytes()
  (tmp_path / 'in' / 'cut.png').write_bytes(good[: len(good) // 2])
  (tmp_path / 'in' / 'empty.webp').write_bytes(b'')
  Image.fromarray(_pixels((8, 8, 3), seed=1)).save(tmp_path / 'in' / 'jpeg_named.png', format='JPEG')
  assert _run(generator, '-i', tmp_path / 'in', '-o', tmp_path / 'out') == 1
  assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['good_out.png', 'jpeg_named_out.png']
  out, err = capsys.readouterr()
  assert 'declares 100000x100000 pixels, over the' in err and 'cut.png: PNG data truncated' in err
  assert '2 of 5 images done, 3 failed' in out


def test_no_compile_cache_help_says_what_the_default_does():
  text = ' '.join(upscale._parser().format_help().split())
  assert 'do not keep compiled programs on disk (default: keep them;' in text and 'default: True' not in text
