"""The default training config: ESRGAN x4 as in the paper and BasicSR's configs (reference §4).

`configs/*.py` start from `get_config()` and override fields. Both stages run in order, each into its own folder of
the workdir; `stages=('gan',)` with `gan.pretrained` fine-tunes any generator file (e.g. converted RRDB_PSNR_x4).
`config.model` holds `arch` plus that generator's constructor fields (scale and dtype come from `config.scale` and
`config.half_precision`); an MSRResNet or SRVGGNetCompact config replaces it wholesale (see configs/ablation/ and
`compact_model`, used by configs/compact.py).
"""

import importlib.util
import os
from pathlib import Path

import ml_collections


def data_config() -> ml_collections.ConfigDict:
  """The fields of a `data` ConfigDict (one per stream: train_data and val_data); see
  `esrgan_jax.data.input_pipeline`."""
  config = ml_collections.ConfigDict()
  config.source = 'demo'  # demo | folder | paired | tfds | tfrecord.
  config.hr_dir = ''  # 'folder' and 'paired': HR images (searched recursively).
  config.lr_dir = ''  # 'paired': LR images with the same names (DIV2K's '0001x4' also matches '0001').
  config.tfds_name = 'div2k/bicubic_x4'
  config.tfds_split = 'train'
  config.tfds_data_dir = ''  # '' = the TFDS default.
  config.tfds_image_key = 'hr'
  config.tfrecord_pattern = ''  # Shards written by `python -m esrgan_jax.prepare --format tfrecord`.
  config.names = ()  # 'demo': image names; () = the default train / val split.
  config.cache = True  # Keep decoded HR images in memory (about 3 bytes per pixel).
  config.shuffle_buffer = 1024  # Streamed sources ('tfds'/'tfrecord' without cache) only.
  config.num_parallel_calls = -1  # -1 = tf.data.AUTOTUNE.
  # How LR inputs are made from HR: 'bicubic' (MATLAB imresize on the host, ESRGAN) or 'realesrgan' (Real-ESRGAN's
  # random second-order degradation, esrgan_jax.degradations.pipeline: the host only crops GT patches and the jitted
  # step degrades them; validation images are degraded once, with a fixed key). Not for the 'paired' source.
  config.degradation = 'bicubic'
  config.sharpen_gt = True  # 'realesrgan': USM-sharpen the GT before degrading it and train towards it (gt_usm)
  # 'realesrgan': 'diffjpeg' (BasicSR's DiffJPEG, as Real-ESRGAN trains) or 'libjpeg' (a real codec's artefacts)
  config.jpeg_impl = 'diffjpeg'
  config.degradation_draws = 'per_batch'  # 'realesrgan': as BasicSR (resize/noise/order per batch) or 'per_example'
  return config


def stage_config(**overrides) -> ml_collections.ConfigDict:
  """Fields shared by both stages, with BasicSR's defaults; `overrides` replace some."""
  stage = ml_collections.ConfigDict(
    dict(
      num_steps=400_000,
      batch_size=16,  # global, over all devices and processes
      gt_size=128,  # HR patch size; the LR patch is gt_size / scale
      schedule='multistep',  # constant | multistep | cosine_restarts
      milestones=(50_000, 100_000, 200_000, 300_000),  # multistep: lr *= gamma from each of these steps on
      gamma=0.5,
      periods=(250_000,) * 4,  # cosine_restarts
      restart_weights=(1.0,) * 4,
      eta_min=1e-7,
      b1=0.9,
      b2=0.99,  # BasicSR; the paper used 0.999
      pixel_weight=1.0,
      optimizer='adam',  # adam | schedule_free_adamw (optax.contrib; validation and exports use its averaged params)
      weight_decay=0.0,  # schedule_free_adamw's decoupled weight decay
      grad_clip=0.0,  # > 0: clip G's and D's gradients each to this global norm (logged before clipping); 0 = off
      accum_iter=1,  # > 1: one update per accum_iter steps of batch_size (see esrgan_jax.training.optimizers)
      warmup_iter=0,  # > 1: linear lr warmup over the first warmup_iter updates (BasicSR's); 0 = off
      val_niqe=False,  # also validate with NIQE (needs validation images of at least 96x192 after the crop)
      val_lpips='',  # also validate with LPIPS: 'alex' | 'vgg' (converted file in the weights dir) | a file; '' = off
      val_dists='',  # also validate with DISTS: 'default' (dists.msgpack in the weights dir) | a file; '' = off
      best_metric='val_psnr',  # kept as best: val_psnr (higher is better) | val_niqe | val_lpips | val_dists (lower)
    )
  )
  stage.update(overrides)
  return stage


def compact_model(**overrides) -> ml_collections.ConfigDict:
  """A `config.model` for Real-ESRGAN's SRVGGNetCompact, by default realesr-general-x4v3's size."""
  model = ml_collections.ConfigDict()
  model.arch = 'SRVGGNetCompact'
  model.num_feat = 64  # channels of every conv but the last
  model.num_conv = 32  # convs between the first and the last one (realesr-animevideov3: 16)
  model.act_type = 'prelu'  # prelu (a learned slope per channel) | leakyrelu (slope 0.1) | relu
  model.update(overrides)
  return model


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.scale = 4
  config.stages = ('psnr', 'gan')
  config.model = ml_collections.ConfigDict(
    dict(arch='RRDBNet', num_feat=64, num_block=23, num_grow_ch=32, res_scale=0.2, init_scale=0.1, use_bn=False)
  )
  config.discriminator = ml_collections.ConfigDict(
    dict(
      arch='VGGStyleDiscriminator',  # VGGStyleDiscriminator (ESRGAN, gan.gt_size 128/256) | UNetDiscriminatorSN
      num_feat=64,
      skip_connection=True,  # UNetDiscriminatorSN only
    )
  )
  config.half_precision = False  # bfloat16 compute, float32 params and losses
  # Memory lever for large batches: recompute each RRDB's activations in the backward pass (jax.checkpoint) instead
  # of keeping them; ~1/3 more compute, same params, files and results. RRDBNet only.
  config.remat = False
  # Compile-time lever for accelerators: run the RRDB blocks as one nn.scan, so XLA compiles one block instead of
  # num_block (init and train step compile several times faster). The train state and checkpoints hold the blocks
  # stacked (resume with the same setting); exported generators, validation and pretrained files keep body_0..body_N-1.
  # The same step; a fresh init draws other random values. On CPU the scanned step runs several times slower (XLA:CPU
  # backward convs in a loop). RRDBNet only.
  config.scan_blocks = False
  config.ema_decay = 0.999

  config.psnr = stage_config(num_steps=1_000_000, lr=2e-4, schedule='cosine_restarts')
  config.gan = stage_config(
    lr_g=1e-4,
    lr_d=1e-4,
    pixel_weight=1e-2,
    perceptual_weight=1.0,
    perceptual_network='vgg19',  # vgg19 | minc (VGG16 fine-tuned for material recognition, the PIRM-SR entry)
    perceptual_layers={'conv5_4': 1.0},  # vgg19: convS_I before ReLU (ESRGAN) or reluS_I after (SRGAN); minc: conv53
    vgg_weights='',  # weights of perceptual_network; '' = its file in the weights dir (esrgan_jax.weights.locations)
    gan_type='ragan',  # ragan (relativistic average, ESRGAN) | vanilla (standard GAN, SRGAN, Real-ESRGAN)
    gan_weight=5e-3,
    net_d_iters=1,
    net_d_init_iters=0,
    ldl_weight=0.0,  # > 0: LDL artifact loss (Liang et al. 2022, esrgan_jax.training.ldl) with this weight
    val_niqe=True,  # NIQE, the perceptual measure this stage is meant to improve
    pretrained='',
  )  # generator to start from; '' = this workdir's psnr stage

  config.train_data = data_config()
  config.train_data.source = 'tfds'
  config.train_data.tfds_name = 'div2k/bicubic_x4'
  config.train_data.tfds_split = 'train'
  config.val_data = data_config()
  config.val_data.source = 'tfds'
  config.val_data.tfds_name = 'div2k/bicubic_x4'
  config.val_data.tfds_split = 'validation[:10]'

  config.log_every_steps = 100
  config.eval_every_steps = 5000
  config.checkpoint_every_steps = 5000
  config.keep_checkpoints = 3  # the latest N, plus the best by each stage's best_metric
  # TensorBoard event files: '' = each stage's folder in the workdir; else TENSORBOARD_DIR/STAGE (a local folder that
  # a TensorBoard watches while the workdir is on gs://, say). Written with tf.io.gfile: local, gs://, or s3:// with
  # tensorflow-io.
  config.tensorboard_dir = ''
  # train_data.degradation 'realesrgan': WORKDIR/strip.png shows the first validation image's degraded LR input, this
  # generator's output on it ('' = bicubic upscaling; e.g. a bicubic-trained model) and the last stage's, with NIQE.
  config.strip_baseline = ''
  return config


def load_config_file(path: str | os.PathLike) -> ml_collections.ConfigDict:
  """`get_config()` of a config file, as `--config PATH` loads it (e.g. to build one config on another)."""
  path = Path(path)
  if not path.is_file():
    raise FileNotFoundError(f'No config file at {path}.')
  spec = importlib.util.spec_from_file_location(f'esrgan_config_{path.stem}', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()
