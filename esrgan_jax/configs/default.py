"""The default training config: ESRGAN x4 as in the paper (Wang et al. 2018, §4.1) and BasicSR's
options/train/ESRGAN/train_RRDBNet_PSNR_x4.yml and train_ESRGAN_x4.yml. Every field has a comment here.

The other configs start from `get_config()` and override fields (esrgan.py picks the stage and scale). Both stages
run in order, each into its own folder of the workdir; `stages=('gan',)` with `gan.pretrained` fine-tunes any
generator file (e.g. converted RRDB_PSNR_x4). `config.model` holds `arch` plus that generator's constructor fields
(scale and dtype come from `config.scale` and `config.half_precision`); an MSRResNet or SRVGGNetCompact config
replaces it wholesale (see configs/ablation/ and `compact_model`, used by configs/compact.py).
`esrgan_jax.training.config_checks` says which values each field takes.
"""

import ml_collections


def data_config() -> ml_collections.ConfigDict:
  """The fields of a `data` ConfigDict (one per stream: train_data and val_data); see `esrgan_jax.data.sources`."""
  config = ml_collections.ConfigDict()
  config.source = 'demo'  # demo | folder | paired | tfds | tfrecord.
  config.hr_dir = ''  # 'folder' and 'paired': HR images (searched recursively).
  config.lr_dir = ''  # 'paired': LR images with the same names (DIV2K's '0001x4' also matches '0001').
  config.tfds_name = 'div2k/bicubic_x4'  # 'tfds': the TFDS dataset (NAME or NAME:VERSION)
  config.tfds_split = 'train'  # 'tfds': the split, slicing allowed ('validation[:10]')
  config.tfds_data_dir = ''  # '' = the TFDS default.
  config.tfds_image_key = 'hr'  # 'tfds': the feature holding the HR image
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
  """Fields shared by both stages, with BasicSR's defaults; `overrides` replace some or add the stage's own."""
  stage = ml_collections.ConfigDict(
    dict(
      num_steps=400_000,  # training steps of the stage (micro-batches when accum_iter > 1)
      batch_size=16,  # global, over all devices and processes
      gt_size=128,  # HR patch size; the LR patch is gt_size / scale
      schedule='multistep',  # constant | multistep | cosine_restarts
      milestones=(50_000, 100_000, 200_000, 300_000),  # multistep: lr *= gamma from each of these steps on
      gamma=0.5,  # multistep: the factor at each milestone
      periods=(250_000,) * 4,  # cosine_restarts: the length of each cosine cycle
      restart_weights=(1.0,) * 4,  # cosine_restarts: each cycle's peak lr, as a fraction of lr
      eta_min=1e-7,  # cosine_restarts: the lr at the end of each cycle
      b1=0.9,  # Adam's first-moment decay
      b2=0.99,  # BasicSR; the paper used 0.999
      pixel_weight=1.0,  # weight of the L1 loss between SR and HR
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
  model.arch = 'SRVGGNetCompact'  # Real-ESRGAN's compact VGG-style generator (esrgan_jax.models.srvgg)
  model.num_feat = 64  # channels of every conv but the last
  model.num_conv = 32  # convs between the first and the last one (realesr-animevideov3: 16)
  model.act_type = 'prelu'  # prelu (a learned slope per channel) | leakyrelu (slope 0.1) | relu
  model.update(overrides)
  return model


def get_config() -> ml_collections.ConfigDict:
  """Both stages of ESRGAN x4 on DIV2K (TFDS), with the paper's RRDBNet and VGG-style discriminator."""
  config = ml_collections.ConfigDict()
  config.seed = 0  # parameter init, data order, crops, augmentation and the realesrgan degradation draws
  config.scale = 4  # 4 | 2 | 1 (RRDBNet pixel-unshuffles the input at x2 and x1, Real-ESRGAN's layout)
  config.stages = ('psnr', 'gan')  # run in this order, each resumable: psnr (L1 pre-training), gan (fine-tuning)
  # The generator: arch (RRDBNet | MSRResNet | SRVGGNetCompact) and its constructor's fields
  config.model = ml_collections.ConfigDict(
    dict(
      arch='RRDBNet',  # the paper's generator (esrgan_jax.models.rrdbnet)
      num_feat=64,  # channels of the trunk
      num_block=23,  # RRDBs in the trunk
      num_grow_ch=32,  # channels each dense layer adds
      res_scale=0.2,  # residual scaling of each dense block and RRDB
      init_scale=0.1,  # Kaiming-normal init times this (the paper's smaller initialisation)
      use_bn=False,  # BatchNorm in the blocks (the paper removes it)
    )
  )
  # The GAN stage's discriminator: arch and its constructor's fields
  config.discriminator = ml_collections.ConfigDict(
    dict(
      arch='VGGStyleDiscriminator',  # VGGStyleDiscriminator (ESRGAN, gan.gt_size 128/256) | UNetDiscriminatorSN
      num_feat=64,  # channels of the first conv (doubling down the net)
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
  config.ema_decay = 0.999  # the EMA generator (validated and exported): ema = decay * ema + (1 - decay) * params

  # Stage 1, PSNR-oriented (L1 only): BasicSR's train_RRDBNet_PSNR_x4.yml
  config.psnr = stage_config(
    num_steps=1_000_000,  # BasicSR's 1M iterations
    lr=2e-4,  # the generator's Adam learning rate
    schedule='cosine_restarts',  # 4 cycles of 250k steps down to eta_min
  )
  # Stage 2, GAN fine-tuning from the PSNR generator: BasicSR's train_ESRGAN_x4.yml
  config.gan = stage_config(
    lr_g=1e-4,  # the generator's Adam learning rate
    lr_d=1e-4,  # the discriminator's Adam learning rate
    pixel_weight=1e-2,  # the paper's eta
    perceptual_weight=1.0,  # weight of the perceptual (feature L1) loss; 0 = off (no weights file needed)
    perceptual_network='vgg19',  # vgg19 | minc (VGG16 fine-tuned for material recognition, the PIRM-SR entry)
    perceptual_layers={'conv5_4': 1.0},  # vgg19: convS_I before ReLU (ESRGAN) or reluS_I after (SRGAN); minc: conv53
    vgg_weights='',  # weights of perceptual_network; '' = its file in the weights dir (esrgan_jax.weights.locations)
    gan_type='ragan',  # ragan (relativistic average, ESRGAN) | vanilla (standard GAN, SRGAN, Real-ESRGAN)
    gan_weight=5e-3,  # the paper's lambda
    net_d_iters=1,  # G updates on every net_d_iters-th step only (D on every step)
    net_d_init_iters=0,  # no G update in the first net_d_init_iters steps (D warms up)
    ldl_weight=0.0,  # > 0: LDL artifact loss (Liang et al. 2022, esrgan_jax.training.ldl) with this weight
    val_niqe=True,  # NIQE, the perceptual measure this stage is meant to improve
    pretrained='',  # generator to start from; '' = this workdir's psnr stage
  )

  config.train_data = data_config()  # training patches (fields in `data_config`)
  config.train_data.source = 'tfds'  # DIV2K through TFDS (`tfds build div2k/bicubic_x4` once)
  config.train_data.tfds_name = 'div2k/bicubic_x4'  # its HR images; LR is made by MATLAB bicubic here
  config.train_data.tfds_split = 'train'  # DIV2K's 800 training images
  config.val_data = data_config()  # whole validation images (fields in `data_config`)
  config.val_data.source = 'tfds'  # DIV2K through TFDS
  config.val_data.tfds_name = 'div2k/bicubic_x4'  # its HR images
  config.val_data.tfds_split = 'validation[:10]'  # the first 10 of DIV2K's 100 validation images

  config.log_every_steps = 100  # losses to TensorBoard, history.jsonl and the terminal
  config.eval_every_steps = 5000  # validation metrics and sample images (and at the end of each stage)
  config.checkpoint_every_steps = 5000  # Orbax checkpoint of the whole train state (resume point)
  config.keep_checkpoints = 3  # the latest N, plus the best by each stage's best_metric
  # TensorBoard event files: '' = each stage's folder in the workdir; else TENSORBOARD_DIR/STAGE (a local folder that
  # a TensorBoard watches while the workdir is on gs://, say). Written with tf.io.gfile: local, gs://, or s3:// with
  # tensorflow-io.
  config.tensorboard_dir = ''
  # train_data.degradation 'realesrgan': WORKDIR/strip.png shows the first validation image's degraded LR input, this
  # generator's output on it ('' = bicubic upscaling; e.g. a bicubic-trained model) and the last stage's, with NIQE.
  config.strip_baseline = ''
  return config
