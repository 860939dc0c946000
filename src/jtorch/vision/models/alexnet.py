"""AlexNet as in the seed (single-channel 224×224 input, Fashion-MNIST sized head), and a small
variant for 32×32 inputs; layer names and printed form follow torch."""

from __future__ import annotations

from typing import Any

import jax

from jtorch import nn

__all__ = ["AlexNet", "alexnet", "alexnet_small"]


class AlexNet(nn.Module):
    """`conv` feature Sequential then `fc` classifier Sequential (seed 002 §4.3.2)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, small: bool = False):
        super().__init__()
        if small:  # 32×32 input: 3×3 kernels, stride 1; features end at 256×3×3
            self.conv = nn.Sequential(
                nn.Conv2d(in_channels, 64, 3, 1, 1),
                nn.ReLU(),
                nn.MaxPool2d(2, 2),
                nn.Conv2d(64, 128, 3, 1, 1),
                nn.ReLU(),
                nn.MaxPool2d(2, 2),
                nn.Conv2d(128, 256, 3, 1, 1),
                nn.ReLU(),
                nn.Conv2d(256, 256, 3, 1, 1),
                nn.ReLU(),
                nn.MaxPool2d(3, 2),
            )
            features, hidden = 256 * 3 * 3, 512
        else:
            self.conv = nn.Sequential(
                nn.Conv2d(in_channels, 96, 11, 4),
                nn.ReLU(),
                nn.MaxPool2d(3, 2),
                nn.Conv2d(96, 256, 5, 1, 2),
                nn.ReLU(),
                nn.MaxPool2d(3, 2),
                nn.Conv2d(256, 384, 3, 1, 1),
                nn.ReLU(),
                nn.Conv2d(384, 384, 3, 1, 1),
                nn.ReLU(),
                nn.Conv2d(384, 256, 3, 1, 1),
                nn.ReLU(),
                nn.MaxPool2d(3, 2),
            )
            features, hidden = 256 * 5 * 5, 4096
        self.fc = nn.Sequential(
            nn.Linear(features, hidden),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, img: Any) -> jax.Array:
        feature = self.conv(img)
        return self.fc(feature.reshape(img.shape[0], -1))


def alexnet(num_classes: int = 10, in_channels: int = 1) -> AlexNet:
    return AlexNet(num_classes, in_channels)


def alexnet_small(num_classes: int = 10, in_channels: int = 1) -> AlexNet:
    return AlexNet(num_classes, in_channels, small=True)
