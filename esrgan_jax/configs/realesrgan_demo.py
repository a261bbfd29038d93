"""The Real-ESRGAN recipe in minutes on 2 CPU cores: configs/realesrnet_x4plus.py then realesrgan_x4plus.py, with the
Quickstart demo's small RRDBNet on the photos that ship with scikit-image (configs/demo.py's split).

Both stages degrade 64-px GT patches inside the jitted step (Real-ESRGAN's second-order degradation). Stage 1: L1 on
the sharpened GT; stage 2: L1 + vanilla GAN against a small U-Net discriminator with spectral norm. Validation
(chelsea, coffee) runs on LR inputs degraded once with a fixed key and keeps the checkpoint with the lowest NIQE.
The run ends with WORKDIR/strip.png: chelsea's degraded LR input | bicubic upscaling (or the generator named by
--config.strip_baseline, e.g. a bicubic-trained demo's DIR/gan/generator.msgpack) | this run's output, with NIQE.
No VGG19 weights ship with the project, so the GAN stage runs without the perceptual loss; with vgg19.msgpack in
the weights directory (see third_party/vgg_weights) set --config.gan.perceptual_weight=1.0.
"""

from pathlib import Path

from esrgan_jax import configs


def get_config():
  config = configs.load_config_file(Path(__file__).with_name('realesrnet_x4plus.py'))
  config.stages = ('psnr', 'gan')
  config.model.update(num_feat=32, num_block=2, num_grow_ch=16)
  config.discriminator.num_feat = 16
  config.ema_decay = 0.99  # a few hundred steps: 0.999 would still be averaging in the random init
  config.train_data.source = config.val_data.source = 'demo'
  config.psnr.update(num_steps=300, batch_size=16, gt_size=64, lr=5e-4, schedule='constant')
  config.gan.update(num_steps=100, batch_size=8, gt_size=64, lr_g=5e-5, lr_d=1e-4, schedule='constant')
  config.gan.perceptual_weight = 0.0
  config.log_every_steps = 50
  config.eval_every_steps = 1000  # validate at the end of each stage only
  config.checkpoint_every_steps = 100
  config.keep_checkpoints = 2
  return config
