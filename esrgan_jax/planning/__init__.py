"""Ahead-of-time planning of training runs on accelerators this host does not have: TPU topologies, chip figures,
the compiled step's memory, FLOPs and collectives (`python -m esrgan_jax.aot`)."""
