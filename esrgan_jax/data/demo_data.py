"""Demo dataset: colour photographs shipped inside scikit-image (no download).

Default split: validate on chelsea + coffee (bicubic x4 Y-PSNR 29.38 dB), train
on the other natural colour photos. `retina` (mostly black border), the
synthetic `colorwheel`/`logo` and the grayscale images are left out.
"""

from collections.abc import Callable

import numpy as np
import skimage.data

_LOADERS: dict[str, Callable[[], np.ndarray]] = {
  'astronaut': skimage.data.astronaut,
  'chelsea': skimage.data.chelsea,
  'coffee': skimage.data.coffee,
  'hubble_deep_field': skimage.data.hubble_deep_field,
  'immunohistochemistry': skimage.data.immunohistochemistry,
  'motorcycle_left': lambda: skimage.data.stereo_motorcycle()[0],
  'motorcycle_right': lambda: skimage.data.stereo_motorcycle()[1],
  'retina': skimage.data.retina,
  'rocket': skimage.data.rocket,
}
DEMO_IMAGE_NAMES = tuple(sorted(_LOADERS))
DEMO_VAL_NAMES = ('chelsea', 'coffee')
DEMO_TRAIN_NAMES = (
  'astronaut',
  'hubble_deep_field',
  'immunohistochemistry',
  'motorcycle_left',
  'motorcycle_right',
  'rocket',
)


def load_demo_image(name: str) -> np.ndarray:
  """The demo photo `name` as uint8 HW3 RGB."""
  if name not in _LOADERS:
    raise ValueError(f'Unknown demo image {name!r}; choose from {", ".join(DEMO_IMAGE_NAMES)}.')
  return np.ascontiguousarray(_LOADERS[name]())
