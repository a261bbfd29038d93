"""Video upscaling: PyAV decoding and encoding around the image path's network calls (`esrgan_jax.inference`)."""
