"""The Quickstart demo: a small RRDBNet trained on photos that ship with scikit-image, in minutes on 2 CPU cores.

PSNR stage (L1) on 64-px patches, then a short RaGAN stage on 128-px patches. Validation: chelsea and coffee,
which training never sees; the printed summary puts the EMA generator's Y-PSNR next to bicubic's.
No VGG19 weights ship with the project, so the demo's GAN stage runs without the perceptual loss; with
vgg19.msgpack in the weights directory (see third_party/vgg_weights) set --config.gan.perceptual_weight=1.0.
"""

from esrgan_jax.configs import default


def get_config():
  config = default.get_config()
  config.model.update(num_feat=32, num_block=2, num_grow_ch=16)
  config.discriminator.num_feat = 16
  config.ema_decay = 0.99  # a few thousand steps: the paper's 0.999 would still be averaging in the random init
  config.train_data.source = config.val_data.source = 'demo'
  config.psnr.update(
    num_steps=1400,
    batch_size=16,
    gt_size=64,
    lr=5e-4,
    schedule='cosine_restarts',
    periods=(1400,),
    restart_weights=(1.0,),
    eta_min=1e-6,
  )
  config.gan.update(
    num_steps=100,
    batch_size=8,
    gt_size=128,
    lr_g=5e-5,
    lr_d=1e-4,
    schedule='constant',
    perceptual_weight=0.0,
    gan_weight=1e-3,
  )
  config.log_every_steps = 50
  config.eval_every_steps = 700
  config.checkpoint_every_steps = 100
  config.keep_checkpoints = 2
  return config
