"""Images: reading/writing, MATLAB-exact imresize, 8-bit rounding, demo photos, and the tf.data
pipelines (TensorFlow only there)."""
