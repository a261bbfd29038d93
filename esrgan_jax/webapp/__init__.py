"""The web app's library (`python -m esrgan_jax.app`): model files of one folder, device-side network
interpolation that never recompiles when α moves, the page's images and metrics, and the Gradio page itself (only
`ui` imports gradio)."""
