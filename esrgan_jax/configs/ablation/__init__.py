"""The configs of the paper's ablation (Fig. 7), one per column; `python -m esrgan_jax.ablation` runs them."""
