"""VGG-11/13/16/19 (optionally with BatchNorm) with torchvision's layer names and init."""

from __future__ import annotations

from typing import Any

import jax

from jtorch import nn

__all__ = ["VGG", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg16_bn"]

_CONFIGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ],
}


def _features(config: list[int | str], batch_norm: bool, in_channels: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, int(v), kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(int(v)))
        layers.append(nn.ReLU(inplace=True))
        in_channels = int(v)
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """`features`, `avgpool` (adaptive 7×7), `classifier` as torchvision.models.VGG."""

    def __init__(self, features: nn.Sequential, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        for m in self.modules():  # torchvision's init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: Any) -> jax.Array:
        x = self.avgpool(self.features(x))
        return self.classifier(x.reshape(x.shape[0], -1))


def _vgg(config: str, batch_norm: bool, num_classes: int, in_channels: int) -> VGG:
    return VGG(_features(_CONFIGS[config], batch_norm, in_channels), num_classes)


def vgg11(num_classes: int = 1000, in_channels: int = 3) -> VGG:
    return _vgg("A", False, num_classes, in_channels)


def vgg11_bn(num_classes: int = 1000, in_channels: int = 3) -> VGG:
    return _vgg("A", True, num_classes, in_channels)


def vgg13(num_classes: int = 1000, in_channels: int = 3) -> VGG:
    return _vgg("B", False, num_classes, in_channels)


def vgg16(num_classes: int = 1000, in_channels: int = 3) -> VGG:
    return _vgg("D", False, num_classes, in_channels)


def vgg16_bn(num_classes: int = 1000, in_channels: int = 3) -> VGG:
    return _vgg("D", True, num_classes, in_channels)


def vgg19(num_classes: int = 1000, in_channels: int = 3) -> VGG:
    return _vgg("E", False, num_classes, in_channels)
