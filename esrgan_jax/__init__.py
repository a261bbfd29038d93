"""esrgan_jax: ESRGAN in JAX/Flax.

Subpackages by role: `models` (networks), `data` (images, MATLAB imresize, tf.data pipelines), `weights` (model files,
PyTorch state dicts), `training` (losses, steps, the trainer, the ablation), `inference` (tiling, metrics,
interpolation). The command-line tools (`main`, `upscale`, `evaluate`, `convert`, `interpolate`, `prepare`,
`ablation`) are thin modules on top. Importing the package loads nothing heavy (no JAX, no TensorFlow).
"""

__version__ = '0.2.0'
