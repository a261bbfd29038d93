"""Every command README.md and docs/*.md show is one the tools accept, and a test runs each tool for real.

Commands come from ```bash / ```sh / ```console / ```shell blocks (whole lines, `\\` continuations joined, `&&`
chains split) and from inline code spans that start with one of COMMAND_STARTS. Each is parsed by its own tool without
running it: argparse tools and scripts through their `main`, stopped right after `parse_args`; the absl tools (`main`,
`aot`) in a child process that runs the module as `python -m` does, with `app.run` stopped after its flags parser
(which loads the config file and applies the `--config.FIELD=VALUE` overrides). `pip install` may name only extras
setup.cfg declares and packages it names, at versions it allows. README's test command must be a line of `.ci/run`,
which runs it. END_TO_END names the test that runs each documented tool for real.
"""

import argparse
import configparser
import importlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]
FENCE = re.compile(r'^ *```([a-z]*)\n(.*?)^ *```', re.M | re.S)  # also indented, inside list items
SHELL_LANGUAGES = ('bash', 'sh', 'console', 'shell')
CODE_SPAN = re.compile(r'`([^`]+)`')
COMMAND_STARTS = (
  'python -m esrgan_jax.',
  'esrgan-',
  'pip install',
  'python -m pip install',
  'python benchmarks/',
  'python docs/',
)
# Programs of shell blocks that are not ours (making folders, copying files): not checked here.
OTHER_PROGRAMS = {'cp', 'mkdir'}
ABSL_TOOLS = ('main', 'aot')
# The test that runs each tool (or convert command, or script) for real, end to end.
END_TO_END = {
  'main': 'tests/test_main.py',
  'upscale': 'tests/test_upscale.py',
  'evaluate': 'tests/test_evaluate.py',
  'convert generator': 'tests/test_convert.py',
  'convert discriminator': 'tests/test_convert.py',
  'convert vgg19': 'tests/test_convert.py',
  'convert minc': 'tests/test_convert.py',
  'convert to-pth': 'tests/test_convert.py',
  'convert to-safetensors': 'tests/test_convert.py',
  'convert to-onnx': 'tests/test_convert.py',
  'convert lpips': 'tests/weights/test_lpips_weights.py',
  'convert dists': 'tests/models/test_dists.py',
  'interpolate': 'tests/test_interpolate.py',
  'prepare': 'tests/test_prepare.py',
  'ablation': 'tests/test_ablation.py',
  'app': 'tests/test_app.py',
  'aot': 'tests/test_aot.py',
  'benchmarks/accelerator.py': 'tests/test_benchmarks_accelerator.py',
  'cpu_kernels.build': 'tests/cpu_kernels/test_build.py',
}
# Documented scripts that only a person runs (minutes to an hour): their arguments are parsed here, nothing more.
PARSED_ONLY = {
  'benchmarks/run_all.py',
  'benchmarks/video.py',
  'benchmarks/aot_pods.py',
  'benchmarks/input_pipeline.py',
  'benchmarks/compile_time.py',
  'docs/app_screenshot.py',
}


def _shell_lines(block: str, language: str = 'bash'):
  """The command lines of a shell block (in a console block only those after a `$ ` prompt)."""
  for line in block.replace('\\\n', ' ').splitlines():
    line = line.strip()
    if language == 'console' and not line.startswith('$ '):
      continue
    line = line.removeprefix('$ ')
    if line and not line.startswith('#'):
      yield line


def _segments(line: str, comments: bool) -> list[list[str]]:
  """The commands of one shell line: `&&`-separated, leading VAR=value assignments dropped."""
  segments, current = [], []
  for token in [*shlex.split(line, comments=comments), '&&']:
    if token == '&&':
      while current and re.fullmatch(r'[A-Z_]+=\S*', current[0]):
        current.pop(0)
      if current:
        segments.append(current)
      current = []
    else:
      current.append(token)
  return segments


def documented_commands() -> list[tuple[str, str, list[str]]]:
  """(where, the documented line, tokens of one command) for every command of README.md and docs/*.md."""
  commands = []
  for document in DOCUMENTS:
    text = document.read_text()
    name = document.relative_to(ROOT).as_posix()
    for language, block in FENCE.findall(text):
      if language in SHELL_LANGUAGES:
        for line in _shell_lines(block, language):
          commands += [(name, line, tokens) for tokens in _segments(line, comments=True)]
    for span in CODE_SPAN.findall(FENCE.sub('', text)):
      span = re.sub(r'^([A-Z_]+=\S*\s+)+', '', ' '.join(span.split()))  # `PYTHONPATH=. python ...`
      if span.startswith(COMMAND_STARTS):  # a command with arguments, not a tool's name (`python -m esrgan_jax.aot`)
        commands += [
          (name, span, t) for t in _segments(span, comments=False) if len(t) > (3 if t[:2] == ['python', '-m'] else 1)
        ]
  return commands


COMMANDS = documented_commands()


def _id(command: tuple[str, str, list[str]]) -> str:
  return f'{command[0]}: {" ".join(command[2])[:90]}'


def classify(tokens: list[str]) -> tuple[str, str, list[str]]:
  """(kind, target, argv): kind is 'tool' (target: the tool module's name), 'script' (a path), 'pip', 'pytest' or
  'other'; anything else is a mistake in the documentation."""
  if tokens[:2] == ['python', '-m'] and tokens[2].startswith('esrgan_jax.'):
    return 'tool', tokens[2].removeprefix('esrgan_jax.'), tokens[3:]
  if tokens[0].startswith('esrgan-'):
    scripts = configparser.ConfigParser()
    scripts.read(ROOT / 'setup.cfg')
    entry = dict(
      line.replace(' ', '').split('=')
      for line in scripts['options.entry_points']['console_scripts'].split('\n')
      if line
    )
    assert tokens[0] in entry, f'{tokens[0]} is not a console script of setup.cfg'
    return 'tool', entry[tokens[0]].removeprefix('esrgan_jax.').removesuffix(':main'), tokens[1:]
  if tokens[:3] == ['python', '-m', 'pytest']:
    return 'pytest', 'pytest', tokens[3:]
  if tokens[:2] == ['pip', 'install'] or tokens[:4] == ['python', '-m', 'pip', 'install']:
    return 'pip', 'pip', tokens[tokens.index('install') + 1 :]
  if tokens[0] == 'python' and tokens[1].startswith(('benchmarks/', 'docs/')) and tokens[1].endswith('.py'):
    return 'script', tokens[1], tokens[2:]
  if tokens[0] in OTHER_PROGRAMS:
    return 'other', tokens[0], tokens[1:]
  raise AssertionError(f'not a command this test knows: {" ".join(tokens)}')


def end_to_end_key(kind: str, target: str, argv: list[str]) -> str:
  return f'convert {argv[0]}' if (kind, target) == ('tool', 'convert') else target


class _Parsed(Exception):
  """Raised by the patched `parse_args` once the arguments are parsed: the tool stops before doing anything."""


def parse_with_argparse(run, capsys) -> argparse.Namespace:
  """Calls `run()` until its first `ArgumentParser.parse_args` returns; fails with argparse's message if it errs."""
  original = argparse.ArgumentParser.parse_args

  def parse_then_stop(self, args=None, namespace=None):
    raise _Parsed(original(self, args, namespace))

  with mock.patch.object(argparse.ArgumentParser, 'parse_args', parse_then_stop):
    try:
      run()
    except _Parsed as parsed:
      return parsed.args[0]
    except SystemExit as e:
      pytest.fail(f'argparse refused it (exit {e.code}): {capsys.readouterr().err.strip()}')
  pytest.fail('the tool never parsed its arguments')


# Runs each (module, argv) as `python -m module argv` in a fork of one process, with absl's `app.run` replaced by
# its flags parser; prints [exit code, output] per command as JSON.
ABSL_PROBE = r"""
import json, os, runpy, sys
from absl import app
import esrgan_jax.configs, esrgan_jax.training.config_errors  # loaded once, before the forks

def parse_only(main, argv=None, flags_parser=None, **kwargs):
  rest = flags_parser(argv)
  sys.exit(f'unexpected arguments {rest[1:]}' if len(rest) > 1 else 0)

app.run = parse_only
results = []
for module, argv in json.loads(sys.argv[1]):
  read, write = os.pipe()
  pid = os.fork()
  if pid == 0:
    os.close(read)
    os.dup2(write, 1)
    os.dup2(write, 2)
    sys.argv = [module, *argv]
    code = 1
    try:
      runpy.run_module(module, run_name='__main__', alter_sys=True)
    except SystemExit as e:
      code = e.code if isinstance(e.code, int) or e.code is None else (print(e.code, file=sys.stderr) or 1)
    except BaseException:
      import traceback
      traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
  os.close(write)
  with os.fdopen(read) as output:
    text = output.read()
  results.append([os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), text])
print(json.dumps(results))
"""


@pytest.fixture(scope='module')
def absl_parses() -> dict[tuple[str, ...], tuple[int, str]]:
  """{(tool, *argv): (exit code, output)} for every documented command of an absl tool."""
  runs = sorted({(target, *argv) for _, _, tokens in COMMANDS for kind, target, argv in [classify(tokens)]
                 if kind == 'tool' and target in ABSL_TOOLS})  # fmt: skip
  result = subprocess.run(
    [sys.executable, '-c', ABSL_PROBE, json.dumps([[f'esrgan_jax.{run[0]}', list(run[1:])] for run in runs])],
    capture_output=True,
    text=True,
    cwd=ROOT,
    env={**os.environ, 'PYTHONPATH': str(ROOT)},
    timeout=600,
  )
  assert result.returncode == 0, result.stderr
  return dict(zip(runs, map(tuple, json.loads(result.stdout.splitlines()[-1]))))


def test_readme_and_docs_show_commands_of_every_tool():
  tools = {target for _, _, tokens in COMMANDS for kind, target, _ in [classify(tokens)] if kind == 'tool'}
  assert {'main', 'upscale', 'evaluate', 'convert', 'interpolate', 'ablation', 'app', 'aot'} <= tools


def test_quickstart_is_two_commands_and_ci_runs_the_second_verbatim():
  readme = (ROOT / 'README.md').read_text()
  quickstart = readme.split('## Quickstart', 1)[1]
  language, block = FENCE.search(quickstart).groups()
  lines = list(_shell_lines(block))
  assert language == 'bash' and len(lines) == 2
  assert lines[0].startswith('pip install -e ".[train]" && python -m esrgan_jax.main --config configs/demo.py')
  assert lines[1] in (ROOT / '.ci' / 'run').read_text().splitlines()


def test_readme_stays_short_with_a_table_of_contents():
  readme = (ROOT / 'README.md').read_text()
  assert len(readme.splitlines()) <= 210
  contents = readme.split('## Contents', 1)[1].split('\n## ', 1)[0]
  for anchor in re.findall(r'\]\(#([a-z0-9-]+)\)', contents):
    headings = [re.sub(r'[^a-z0-9 -]', '', h.lower()).replace(' ', '-') for h in re.findall(r'^## (.+)$', readme, re.M)]
    assert anchor in headings, f'Contents links to #{anchor}, which is no heading'


def test_every_local_link_of_readme_and_docs_exists():
  for document in DOCUMENTS:
    for target in re.findall(r'\]\(([^)#:\s]+)(?:#[^)]*)?\)', document.read_text()):
      assert (document.parent / target).exists(), f'{document.name} links to {target}, which does not exist'


@pytest.mark.parametrize('where, line, tokens', COMMANDS, ids=list(map(_id, COMMANDS)))
def test_documented_command_parses(where, line, tokens, absl_parses, capsys, monkeypatch):
  kind, target, argv = classify(tokens)
  if kind == 'tool' and target in ABSL_TOOLS:
    code, output = absl_parses[(target, *argv)]
    assert code == 0, f'{where}: {line}\n{output}'
  elif kind == 'tool':
    module = importlib.import_module(f'esrgan_jax.{target}')
    parse_with_argparse(lambda: module.main(argv), capsys)
  elif kind == 'script':
    path = ROOT / target
    assert path.is_file(), f'{where}: {target} does not exist'
    monkeypatch.syspath_prepend(str(path.parent))
    monkeypatch.delitem(sys.modules, path.stem, raising=False)
    monkeypatch.setattr(sys, 'argv', [str(path), *argv])
    parse_with_argparse(importlib.import_module(path.stem).main, capsys)
  elif kind == 'pytest':
    assert line in (ROOT / '.ci' / 'run').read_text().splitlines(), f'{where}: a test command that .ci/run does not run'
  elif kind == 'pip':
    check_pip_install(argv)


def _setup_requirements() -> tuple[set[str], dict[str, Requirement]]:
  """The extras setup.cfg declares, and every requirement it names (install_requires and the extras) by name."""
  setup = configparser.ConfigParser()
  setup.read(ROOT / 'setup.cfg')
  lines = setup['options']['install_requires'].split('\n')
  for extra in setup['options.extras_require'].values():
    lines += extra.split('\n')
  requirements = [Requirement(line.strip()) for line in lines if line.strip() and not line.strip().startswith('#')]
  return set(setup['options.extras_require']), {r.name.lower(): r for r in requirements}


def check_pip_install(argv: list[str]) -> None:
  """Our extras exist; a third-party package is one setup.cfg names, at a version it allows."""
  extras, requirements = _setup_requirements()
  for spec in (arg for arg in argv if not arg.startswith('-')):
    if spec.startswith('.') or spec.startswith('esrgan_jax'):
      named = Requirement('esrgan_jax' + spec.removeprefix('esrgan_jax').removeprefix('.')).extras
      assert named <= extras, f'pip install {spec}: setup.cfg has no extra {sorted(named - extras)}'
      continue
    requirement = Requirement(spec)
    assert requirement.name.lower() in requirements, f'pip install {spec}: setup.cfg does not name {requirement.name}'
    allowed = requirements[requirement.name.lower()].specifier
    for pin in requirement.specifier:
      assert pin.operator != '==' or allowed.contains(pin.version), f'pip install {spec}: setup.cfg allows {allowed}'


@pytest.mark.parametrize(
  'key',
  sorted({end_to_end_key(*classify(tokens)) for _, _, tokens in COMMANDS if classify(tokens)[0] in ('tool', 'script')}),
)
def test_each_documented_tool_has_a_test_that_runs_it(key):
  assert key in END_TO_END or key in PARSED_ONLY, f'{key} is documented, but no test is listed as running it'
  if key in END_TO_END:
    text = (ROOT / END_TO_END[key]).read_text()
    tool, _, command = key.partition(' ')
    runs = (Path(tool).name,) if tool.endswith('.py') else (f'esrgan_jax.{tool}', f'{tool}.main(', f'run_{tool}(')
    assert any(needle in text for needle in runs), f'{END_TO_END[key]} never runs {tool}'
    assert not command or f"'{command}'" in text, f'{END_TO_END[key]} never runs convert {command}'
