"""Real-ESRNet x4plus, Real-ESRGAN's first stage, as its train_realesrnet_x4plus.yml: RRDBNet (64 features, 23
blocks) trained with L1 (weight 1) on Real-ESRGAN's random second-order degradation of 256-px GT patches (USM-sharpened
GT as input and target), synthesised inside the jitted step; batch 48 (12 x 4 GPUs), Adam 2e-4 (0.9, 0.99), 1M steps
(the milestone at 1M leaves the rate constant), EMA 0.999, seed 0. Validation: DIV2K's first 10 validation images,
degraded the same way with a fixed key; the checkpoint kept as best has the lowest NIQE.

Also holds the second stage's settings (configs/realesrgan_x4plus.py runs it from this one). Differences from
Real-ESRGAN: DIV2K (TFDS) instead of DF2K+OST; the generator starts from random weights, not from the official ESRGAN
model; the 8-way dihedral augmentation instead of hflip only; no 400-px pre-crop and no training-pair queue (see
esrgan_jax/degradations/pipeline.py).
"""

from esrgan_jax.configs import default


def get_config():
  config = default.get_config()
  config.stages = ('psnr',)
  config.train_data.degradation = config.val_data.degradation = 'realesrgan'
  config.train_data.sharpen_gt = config.val_data.sharpen_gt = True  # gt_usm / l1_gt_usm / percep_gt_usm
  config.psnr.update(
    num_steps=1_000_000,
    batch_size=48,
    gt_size=256,
    lr=2e-4,
    schedule='multistep',
    milestones=(1_000_000,),
    gamma=0.5,
    pixel_weight=1.0,
    val_niqe=True,
    best_metric='val_niqe',
  )
  # Stage 2 (train_realesrgan_x4plus.yml): from the Real-ESRNet generator, L1 1 + VGG19 perceptual 1 (per-layer
  # weights, before ReLU) + vanilla GAN 0.1 against a U-Net discriminator with spectral norm; D sees the GT unsharpened.
  config.discriminator.update(arch='UNetDiscriminatorSN', num_feat=64, skip_connection=True)
  config.gan.update(
    num_steps=400_000,
    batch_size=48,
    gt_size=256,
    lr_g=1e-4,
    lr_d=1e-4,
    schedule='multistep',
    milestones=(400_000,),
    gamma=0.5,
    pixel_weight=1.0,
    perceptual_weight=1.0,
    perceptual_network='vgg19',
    gan_type='vanilla',
    gan_weight=0.1,
    net_d_iters=1,
    net_d_init_iters=0,
    val_niqe=True,
    best_metric='val_niqe',
  )
  config.gan.perceptual_layers = {'conv1_2': 0.1, 'conv2_2': 0.1, 'conv3_4': 1.0, 'conv4_4': 1.0, 'conv5_4': 1.0}
  config.ema_decay = 0.999
  config.seed = 0
  return config
