"""Real-ESRGAN's synthetic high-order degradation in JAX: random blur kernels, resizing, noise, JPEG and USM
sharpening, composed by `pipeline` into a batched, jit-able GT -> LR transform with per-example randomness."""
