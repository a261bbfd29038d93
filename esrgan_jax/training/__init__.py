"""Training: losses, the pure step functions, the trainer (checkpoints, logging, validation), configs, the ablation."""
