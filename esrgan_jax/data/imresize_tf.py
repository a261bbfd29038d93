"""MATLAB-exact bicubic `imresize` in TensorFlow ops (float32), for tf.data graphs; see `imresize` for the rules."""

from esrgan_jax.data import quiet_tensorflow
from esrgan_jax.data.imresize import kernel_geometry, output_length, resize_matrix

tf = quiet_tensorflow.import_tensorflow()


def _cubic(x: tf.Tensor) -> tf.Tensor:
  """Keys cubic kernel (a = -0.5) of TF tensors, as `imresize.cubic`."""
  absx = tf.abs(x)
  absx2 = absx * absx
  absx3 = absx2 * absx
  inner = 1.5 * absx3 - 2.5 * absx2 + 1.0
  outer = -0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0
  return tf.where(absx <= 1.0, inner, tf.where(absx <= 2.0, outer, tf.zeros_like(absx)))


def _resize_matrix_tf(in_len: tf.Tensor, scale: float) -> tf.Tensor:
  """`resize_matrix` in TF ops for a dynamic length; float64 [out, in]."""
  kernel_width, taps = kernel_geometry(scale)
  in_len = tf.cast(in_len, tf.int64)
  out_len = tf.cast(tf.math.ceil(tf.cast(in_len, tf.float64) * scale), tf.int64)
  u = tf.range(1, out_len + 1, dtype=tf.float64) / scale + 0.5 * (1 - 1 / scale)
  left = tf.floor(u - kernel_width / 2)
  indices = left[:, None] + tf.range(taps, dtype=tf.float64)[None, :]
  distance = u[:, None] - indices
  weights = scale * _cubic(scale * distance) if scale < 1 else _cubic(distance)
  weights = weights / tf.reduce_sum(weights, axis=1, keepdims=True)
  mirrored = tf.math.floormod(tf.cast(indices, tf.int64) - 1, 2 * in_len)
  mirrored = tf.where(mirrored < in_len, mirrored, 2 * in_len - 1 - mirrored)
  one_hot = tf.one_hot(mirrored, tf.cast(in_len, tf.int32), dtype=tf.float64)
  return tf.reduce_sum(one_hot * weights[..., None], axis=1)


def _axis_matrix_tf(in_len: int | None, dynamic_len: tf.Tensor, scale: float) -> tf.Tensor:
  if in_len is not None:  # Static length: the cached numpy matrix as a constant.
    return tf.constant(resize_matrix(in_len, output_length(in_len, scale), scale), tf.float32)
  return tf.cast(_resize_matrix_tf(dynamic_len, scale), tf.float32)


def imresize_tf(image: tf.Tensor, scale: float) -> tf.Tensor:
  """`imresize` in TF ops (float32) for tf.data graphs: HW, HWC or NHWC, static or dynamic H/W."""
  if scale <= 0:
    raise ValueError(f'imresize scale must be positive, got {scale}.')
  image = tf.convert_to_tensor(image)
  rank = image.shape.rank
  if rank not in (2, 3, 4):
    raise ValueError(f'imresize_tf expects an HW, HWC or NHWC image, got shape {image.shape}.')
  x = tf.cast(image, tf.float32)
  if rank == 2:
    x = x[..., None]
  dynamic_shape = tf.shape(x)
  matrix_h = _axis_matrix_tf(x.shape[-3], dynamic_shape[-3], float(scale))
  matrix_w = _axis_matrix_tf(x.shape[-2], dynamic_shape[-2], float(scale))
  x = tf.einsum('oh,...hwc->...owc', matrix_h, x)
  x = tf.einsum('pw,...owc->...opc', matrix_w, x)
  return x[..., 0] if rank == 2 else x
