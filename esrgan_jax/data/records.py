"""The TFRecord schema of sub-image shards: one tf.train.Example per image, `image` (PNG bytes) and `name`."""

from esrgan_jax.data import quiet_tensorflow

tf = quiet_tensorflow.import_tensorflow()

RECORD_FEATURES = {'image': tf.io.FixedLenFeature([], tf.string), 'name': tf.io.FixedLenFeature([], tf.string)}
TFRECORD_SUFFIX = '.tfrecord'


def serialize_record(name: str, png: bytes) -> bytes:
  """One tf.train.Example with the `image` PNG bytes and its `name`."""
  feature = {
    'image': tf.train.Feature(bytes_list=tf.train.BytesList(value=[png])),
    'name': tf.train.Feature(bytes_list=tf.train.BytesList(value=[name.encode()])),
  }
  return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def parse_record(serialized: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """(PNG bytes, name) string tensors of one serialized record."""
  example = tf.io.parse_single_example(serialized, RECORD_FEATURES)
  return example['image'], example['name']
