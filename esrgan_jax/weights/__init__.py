"""Model files (ours), PyTorch state dicts (read/written without torch), where user-supplied weight files live."""
