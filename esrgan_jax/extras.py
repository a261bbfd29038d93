"""The optional dependencies of each role (setup.cfg's extras) and the one line that says which `pip install` brings
them: the base install upscales, evaluates, converts and interpolates; training, video, the web app, ONNX export,
TPU and GPU compilation each come with an extra."""

import importlib.util
import sys

# extra: (the role that needs it, the modules of it that the code imports)
EXTRAS = {
  'train': ('training', ('tensorflow', 'tensorflow_datasets', 'tensorboard', 'clu')),
  'video': ('video', ('av',)),
  'app': ('the web app', ('gradio',)),
  'export': ('ONNX export', ('jax2onnx', 'onnx', 'onnxruntime')),
  'tpu': ('TPU compilation', ('libtpu',)),
  'cuda': ('GPU compilation (the jax CUDA plugin, jax[cuda12]==0.10.2)', ('jax_plugins.xla_cuda12',)),
}


def missing_modules(extra: str) -> list[str]:
  """The modules of `extra` that are not installed (or that this process blocks), in EXTRAS' order."""
  return [name for name in EXTRAS[extra][1] if _find_spec(name) is None]


def _find_spec(name: str) -> object | None:
  """`importlib.util.find_spec`, None also when a parent package of a dotted name is missing."""
  try:
    return importlib.util.find_spec(name)
  except ModuleNotFoundError:
    return None


def install_hint(extra: str, missing: list[str] | None = None) -> str:
  """One line: what the role of `extra` needs (`missing`, default all its modules) and the pip install that brings
  it, e.g. "training needs tensorflow: pip install 'esrgan_jax[train]' (in a checkout: pip install -e '.[train]')"."""
  role, modules = EXTRAS[extra]
  return (
    f"{role} needs {', '.join(missing or modules)}: pip install 'esrgan_jax[{extra}]' "
    f"(in a checkout: pip install -e '.[{extra}]')"
  )


def require(extra: str) -> None:
  """Returns when every module of `extra` is installed; else prints `install_hint` to stderr and exits with code 2."""
  missing = missing_modules(extra)
  if missing:
    print(install_hint(extra, missing), file=sys.stderr)
    raise SystemExit(2)
