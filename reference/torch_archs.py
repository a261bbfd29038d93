"""PyTorch reference networks for parity tests, written from the published architecture (BasicSR key names).

Only tests import this module (torch is a test dependency, never a runtime one).
"""

import torch
from torch import nn
from torch.nn import functional as F


class TorchRDB(nn.Module):
  def __init__(self, nf: int, gc: int):
    super().__init__()
    for j in range(1, 5):
      setattr(self, f'conv{j}', nn.Conv2d(nf + (j - 1) * gc, gc, 3, 1, 1))
    self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)

  def forward(self, x):
    feats = [x]
    for j in range(1, 5):
      feats.append(F.leaky_relu(getattr(self, f'conv{j}')(torch.cat(feats, 1)), 0.2))
    return self.conv5(torch.cat(feats, 1)) * 0.2 + x


class TorchRRDB(nn.Module):
  def __init__(self, nf: int, gc: int):
    super().__init__()
    self.rdb1, self.rdb2, self.rdb3 = TorchRDB(nf, gc), TorchRDB(nf, gc), TorchRDB(nf, gc)

  def forward(self, x):
    return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class TorchRRDBNet(nn.Module):
  """BasicSR-named RRDBNet: conv_first, body.{i}.rdb{k}.conv{j}, conv_body, conv_up1..conv_up{N}, conv_hr, conv_last.

  N = num_upsample x2 stages (default 2); the input is pixel-unshuffled by 2**N / scale (Real-ESRGAN's x2/x1)."""

  def __init__(self, num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32, num_upsample=2):
    super().__init__()
    self.unshuffle, self.num_upsample = 2**num_upsample // scale, num_upsample
    self.conv_first = nn.Conv2d(num_in_ch * self.unshuffle**2, num_feat, 3, 1, 1)
    self.body = nn.Sequential(*[TorchRRDB(num_feat, num_grow_ch) for _ in range(num_block)])
    self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
    for n in range(1, num_upsample + 1):
      setattr(self, f'conv_up{n}', nn.Conv2d(num_feat, num_feat, 3, 1, 1))
    self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
    self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

  def forward(self, x):
    if self.unshuffle > 1:
      x = F.pixel_unshuffle(x, self.unshuffle)
    feat = self.conv_first(x)
    feat = feat + self.conv_body(self.body(feat))
    for n in range(1, self.num_upsample + 1):
      feat = F.leaky_relu(getattr(self, f'conv_up{n}')(F.interpolate(feat, scale_factor=2, mode='nearest')), 0.2)
    return self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))


class TorchSequentialRDB(nn.Module):
  """RDB of the old Sequential ESRGAN: conv{1-4} are (conv, LeakyReLU) Sequentials (keys conv{j}.0), conv5 a
  Sequential of the conv alone. ESRGAN+ (`plus`) adds a bias-free 1x1 conv of x to x2 and then x2 to x4."""

  def __init__(self, nf: int, gc: int, plus: bool):
    super().__init__()
    for j in range(1, 5):
      setattr(self, f'conv{j}', nn.Sequential(nn.Conv2d(nf + (j - 1) * gc, gc, 3, 1, 1), nn.LeakyReLU(0.2)))
    self.conv5 = nn.Sequential(nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1))
    self.conv1x1 = nn.Conv2d(nf, gc, 1, 1, 0, bias=False) if plus else None

  def forward(self, x):
    x1 = self.conv1(x)
    x2 = self.conv2(torch.cat((x, x1), 1))
    if self.conv1x1 is not None:
      x2 = x2 + self.conv1x1(x)
    x3 = self.conv3(torch.cat((x, x1, x2), 1))
    x4 = self.conv4(torch.cat((x, x1, x2, x3), 1))
    if self.conv1x1 is not None:
      x4 = x4 + x2
    return self.conv5(torch.cat((x, x1, x2, x3, x4), 1)) * 0.2 + x


class TorchSequentialRRDB(nn.Module):
  def __init__(self, nf: int, gc: int, plus: bool):
    super().__init__()
    self.RDB1, self.RDB2, self.RDB3 = (TorchSequentialRDB(nf, gc, plus) for _ in range(3))

  def forward(self, x):
    return self.RDB3(self.RDB2(self.RDB1(x))) * 0.2 + x


class TorchShortcut(nn.Module):
  """x + sub(x), the old ESRGAN's ShortcutBlock (keys sub.N)."""

  def __init__(self, sub: nn.Module):
    super().__init__()
    self.sub = sub

  def forward(self, x):
    return x + self.sub(x)


class TorchSequentialRRDBNet(nn.Module):
  """The oldest ESRGAN layout (BasicSR v0.0, ESRGAN+): one `model` Sequential, so keys are numbered: model.0 conv,
  model.1 the trunk (sub.{i} RRDBs, sub.{num_block} conv), then per x2 stage (nearest upsample, conv, LeakyReLU),
  then conv_hr, LeakyReLU, conv_last. The input is pixel-unshuffled by `unshuffle` first (Real-ESRGAN x2/x1 in old
  names)."""

  def __init__(
    self, num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32, num_upsample=2, plus=False, unshuffle=1
  ):
    super().__init__()
    self.unshuffle = unshuffle
    trunk = [TorchSequentialRRDB(num_feat, num_grow_ch, plus) for _ in range(num_block)]
    layers = [
      nn.Conv2d(num_in_ch * unshuffle**2, num_feat, 3, 1, 1),
      TorchShortcut(nn.Sequential(*trunk, nn.Conv2d(num_feat, num_feat, 3, 1, 1))),
    ]
    for _ in range(num_upsample):
      layers += [nn.Upsample(scale_factor=2, mode='nearest'), nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.LeakyReLU(0.2)]
    layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)]
    self.model = nn.Sequential(*layers)

  def forward(self, x):
    return self.model(F.pixel_unshuffle(x, self.unshuffle) if self.unshuffle > 1 else x)


class TorchSRVGGNetCompact(nn.Module):
  """Real-ESRGAN's SRVGGNetCompact from its description: `body` ModuleList of conv(in -> nf), act, num_conv x
  (conv nf -> nf, act), conv(nf -> out * s * s); PixelShuffle(s) plus the nearest-upsampled input. act: PReLU with
  nf parameters, LeakyReLU(0.1) or ReLU."""

  def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4, act_type='prelu'):
    super().__init__()
    self.upscale = upscale
    act = {'prelu': lambda: nn.PReLU(num_parameters=num_feat), 'leakyrelu': lambda: nn.LeakyReLU(0.1), 'relu': nn.ReLU}[
      act_type
    ]
    layers = [nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), act()]
    for _ in range(num_conv):
      layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), act()]
    layers.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
    self.body = nn.ModuleList(layers)

  def forward(self, x):
    out = x
    for layer in self.body:
      out = layer(out)
    return F.pixel_shuffle(out, self.upscale) + F.interpolate(x, scale_factor=self.upscale, mode='nearest')


class TorchVGGStyleDiscriminator(nn.Module):
  """BasicSR-named VGG-style discriminator for 128 or 256 inputs."""

  def __init__(self, num_in_ch=3, num_feat=64, input_size=128):
    super().__init__()
    widths = [num_feat * m for m in (1, 2, 4, 8, 8)] + ([num_feat * 8] if input_size == 256 else [])
    self.num_stages = len(widths)
    prev = num_in_ch
    for i, w in enumerate(widths):
      setattr(self, f'conv{i}_0', nn.Conv2d(prev, w, 3, 1, 1, bias=(i == 0)))
      if i:
        setattr(self, f'bn{i}_0', nn.BatchNorm2d(w, affine=True))
      setattr(self, f'conv{i}_1', nn.Conv2d(w, w, 4, 2, 1, bias=False))
      setattr(self, f'bn{i}_1', nn.BatchNorm2d(w, affine=True))
      prev = w
    self.linear1 = nn.Linear(prev * 4 * 4, 100)
    self.linear2 = nn.Linear(100, 1)

  def forward(self, x):
    act = lambda t: F.leaky_relu(t, 0.2)
    for i in range(self.num_stages):
      x = getattr(self, f'conv{i}_0')(x)
      x = act(getattr(self, f'bn{i}_0')(x) if i else x)
      x = act(getattr(self, f'bn{i}_1')(getattr(self, f'conv{i}_1')(x)))
    return self.linear2(act(self.linear1(x.flatten(1))))


def torch_vgg19_features() -> nn.Sequential:
  """torchvision's `vgg19().features` layout (indices 0..36), without torchvision."""
  layers, prev = [], 3
  for width, n in ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4)):
    for _ in range(n):
      layers += [nn.Conv2d(prev, width, 3, 1, 1), nn.ReLU(inplace=True)]
      prev = width
    layers.append(nn.MaxPool2d(2, 2))
  return nn.Sequential(*layers)


class TorchResidualBlock(nn.Module):
  """x + conv2(relu(conv1(x))); with BN (SRGAN): x + bn2(conv2(relu(bn1(conv1(x)))))."""

  def __init__(self, nf: int, use_bn: bool):
    super().__init__()
    self.conv1, self.conv2 = nn.Conv2d(nf, nf, 3, 1, 1), nn.Conv2d(nf, nf, 3, 1, 1)
    self.bn1, self.bn2 = (nn.BatchNorm2d(nf), nn.BatchNorm2d(nf)) if use_bn else (nn.Identity(), nn.Identity())

  def forward(self, x):
    return x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))


class TorchMSRResNet(nn.Module):
  """BasicSR-named MSRResNet: conv_first, body.{i}.conv{1,2} (+ bn{1,2}), upconv1 (+ upconv2 for x4), conv_hr,
  conv_last; output plus the bilinearly upsampled input."""

  def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_block=16, upscale=4, use_bn=False):
    super().__init__()
    self.upscale = upscale
    self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
    self.body = nn.Sequential(*[TorchResidualBlock(num_feat, use_bn) for _ in range(num_block)])
    shuffle = 2 if upscale == 4 else upscale
    self.upconv1 = nn.Conv2d(num_feat, num_feat * shuffle**2, 3, 1, 1)
    if upscale == 4:
      self.upconv2 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
    self.pixel_shuffle = nn.PixelShuffle(shuffle)
    self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
    self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

  def forward(self, x):
    act = lambda t: F.leaky_relu(t, 0.1)
    out = self.body(act(self.conv_first(x)))
    out = act(self.pixel_shuffle(self.upconv1(out)))
    if self.upscale == 4:
      out = act(self.pixel_shuffle(self.upconv2(out)))
    out = self.conv_last(act(self.conv_hr(out)))
    return out + F.interpolate(x, scale_factor=self.upscale, mode='bilinear', align_corners=False)


class TorchMINCNet(nn.Module):
  """ESRGAN's material-recognition VGG16 (VGG16minc_53.pth): conv11 .. conv53, ceil-mode max-pools, output conv53
  before its ReLU."""

  GROUPS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))

  def __init__(self):
    super().__init__()
    prev = 3
    for g, (width, n) in enumerate(self.GROUPS, 1):
      for i in range(1, n + 1):
        setattr(self, f'conv{g}{i}', nn.Conv2d(prev, width, 3, 1, 1))
        prev = width
    self.pool = nn.MaxPool2d(2, 2, ceil_mode=True)

  def forward(self, x):
    for g, (_, n) in enumerate(self.GROUPS, 1):
      if g > 1:
        x = self.pool(x)
      for i in range(1, n + 1):
        x = getattr(self, f'conv{g}{i}')(x)
        if (g, i) != (5, 3):
          x = F.relu(x)
    return x


class TorchUNetDiscriminatorSN(nn.Module):
  """Real-ESRGAN-named U-Net discriminator; spectral norm (torch's) on conv1-conv8."""

  def __init__(self, num_in_ch=3, num_feat=64, skip_connection=True):
    super().__init__()
    self.skip_connection = skip_connection
    sn = nn.utils.spectral_norm
    f = num_feat
    self.conv0 = nn.Conv2d(num_in_ch, f, 3, 1, 1)
    self.conv1 = sn(nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False))
    self.conv2 = sn(nn.Conv2d(2 * f, 4 * f, 4, 2, 1, bias=False))
    self.conv3 = sn(nn.Conv2d(4 * f, 8 * f, 4, 2, 1, bias=False))
    self.conv4 = sn(nn.Conv2d(8 * f, 4 * f, 3, 1, 1, bias=False))
    self.conv5 = sn(nn.Conv2d(4 * f, 2 * f, 3, 1, 1, bias=False))
    self.conv6 = sn(nn.Conv2d(2 * f, f, 3, 1, 1, bias=False))
    self.conv7 = sn(nn.Conv2d(f, f, 3, 1, 1, bias=False))
    self.conv8 = sn(nn.Conv2d(f, f, 3, 1, 1, bias=False))
    self.conv9 = nn.Conv2d(f, 1, 3, 1, 1)

  def forward(self, x):
    act = lambda t: F.leaky_relu(t, 0.2)
    up = lambda t: F.interpolate(t, scale_factor=2, mode='bilinear', align_corners=False)
    x0 = act(self.conv0(x))
    x1 = act(self.conv1(x0))
    x2 = act(self.conv2(x1))
    x3 = act(self.conv3(x2))
    x4 = act(self.conv4(up(x3)))
    x4 = x4 + x2 if self.skip_connection else x4
    x5 = act(self.conv5(up(x4)))
    x5 = x5 + x1 if self.skip_connection else x5
    x6 = act(self.conv6(up(x5)))
    x6 = x6 + x0 if self.skip_connection else x6
    return self.conv9(act(self.conv8(act(self.conv7(x6)))))
