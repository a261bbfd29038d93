"""A tiny two-stage config for end-to-end tests of `python -m esrgan_jax.main` (seconds per stage on CPU)."""

from esrgan_jax.configs import default


def get_config():
  config = default.get_config()
  config.model.update(num_feat=8, num_block=1, num_grow_ch=4)
  config.discriminator.num_feat = 4
  config.ema_decay = 0.9
  config.train_data.source = config.val_data.source = 'demo'
  config.train_data.names = ('astronaut', 'rocket')
  config.val_data.names = ('chelsea',)
  config.psnr.update(num_steps=8, batch_size=8, gt_size=32, lr=1e-3, schedule='constant')
  config.gan.update(num_steps=2, batch_size=8, gt_size=128, schedule='constant', perceptual_weight=0.0)
  config.log_every_steps = 1
  config.eval_every_steps = 1000  # validate at the end of each stage only
  config.checkpoint_every_steps = 2
  return config
