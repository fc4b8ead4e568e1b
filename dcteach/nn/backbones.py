"""Backbones: images (n, C, H, W) → feature vectors (n, d).

* :func:`resnet_cifar` — ResNet-18/34 (He et al., CVPR 2016) from torchvision with the
  *CIFAR stem* used by SimCLR's CIFAR experiments, SCAN and IDFD: the first convolution is
  3×3 with stride 1 and the max-pool is removed, so a 32×32 image keeps 32×32 resolution
  into the first stage (the ImageNet stem, 7×7 stride 2 + max-pool, would shrink it to 8×8
  at once). The classifier is dropped: the output is the 512-d pooled feature.
* :class:`SmallCNN` — six 3×3 convolutions with batch-norm (two per resolution, widths w, 2w,
  4w), global average pooling: a network that trains at thousands of images per second on a
  2-core CPU for 28×28 digits (``width`` 16 → 64-d features).

Every backbone has ``out_dim`` and runs in ``channels_last`` memory format (faster
convolutions on CPUs and tensor cores; :func:`build_backbone` sets it).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["resnet_cifar", "SmallCNN", "build_backbone", "BACKBONES", "Standardize",
           "image_encoder"]


def resnet_cifar(depth: int = 18, in_channels: int = 3, cifar_stem: bool = True) -> nn.Module:
    """torchvision's ResNet-``depth`` (18 or 34) without its classifier; ``cifar_stem``:
    3×3 stride-1 first convolution and no max-pool."""
    from torchvision.models import resnet18, resnet34

    if depth not in (18, 34):
        raise ValueError(f"ResNet depth must be 18 or 34, got {depth}")
    net = (resnet18 if depth == 18 else resnet34)(weights=None)
    if cifar_stem:
        net.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
    net.out_dim = net.fc.in_features
    net.fc = nn.Identity()
    return net


def _conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


class SmallCNN(nn.Sequential):
    """``[conv-bn-relu ×2 → pool] ×3`` with widths ``w, 2w, 4w``, then global average pooling:
    (n, C, H, W) → (n, 4w). The last stage skips the pooling (the global pool follows)."""

    def __init__(self, in_channels: int = 1, width: int = 16):
        w = int(width)
        layers = [*_conv_bn(in_channels, w), *_conv_bn(w, w), nn.MaxPool2d(2),
                  *_conv_bn(w, 2 * w), *_conv_bn(2 * w, 2 * w), nn.MaxPool2d(2),
                  *_conv_bn(2 * w, 4 * w), *_conv_bn(4 * w, 4 * w),
                  nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        super().__init__(*layers)
        self.out_dim = 4 * w


BACKBONES = {
    "cnn": "SmallCNN (six 3×3 convolutions; 28×28 digits on a CPU)",
    "resnet18": "ResNet-18 with the CIFAR stem (3×3 stride 1, no max-pool)",
    "resnet34": "ResNet-34 with the CIFAR stem",
    "resnet18-imagenet": "ResNet-18 with the ImageNet stem (7×7 stride 2 + max-pool; large images)",
    "resnet34-imagenet": "ResNet-34 with the ImageNet stem (CC's backbone at 224 px)",
}


def build_backbone(name: str, in_channels: int, width: int = 16) -> nn.Module:
    """A backbone by name (see :data:`BACKBONES`), in channels_last memory format.
    ``width`` sets the SmallCNN's first-stage channels."""
    if name == "cnn":
        net = SmallCNN(in_channels, width)
    elif name in ("resnet18", "resnet34"):
        net = resnet_cifar(int(name[6:]), in_channels)
    elif name in ("resnet18-imagenet", "resnet34-imagenet"):
        net = resnet_cifar(int(name[6:8]), in_channels, cifar_stem=False)
    else:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return net.to(memory_format=torch.channels_last)


class Standardize(nn.Module):
    """``(x − mean) / std`` per channel, as the first layer of an encoder (so that every
    caller — training, embedding, a notebook — feeds images in [0, 1]); channels_last out."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32)[:, None, None])
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32)[:, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)


def image_encoder(facts, backbone: str = "auto", width: int = 16,
                  standardize: bool = True) -> nn.Sequential:
    """``Standardize → backbone`` for images described by ``facts``
    (:class:`dcteach.data.images.ImageFacts`); ``backbone="auto"`` takes ``facts.backbone``.
    Has ``out_dim``."""
    name = facts.backbone if backbone == "auto" else backbone
    net = build_backbone(name, facts.channels, width)
    mean, std = (facts.mean, facts.std) if standardize else ((0.0,) * facts.channels,
                                                            (1.0,) * facts.channels)
    enc = nn.Sequential(Standardize(mean, std), net)
    enc.out_dim = net.out_dim
    return enc
