"""LeNet-5 as written in the seed (32×32 single-channel input), with torch's layer names."""

from __future__ import annotations

from typing import Any

import jax

from jtorch import nn
from jtorch.nn import functional as F

__all__ = ["LeNet", "lenet"]


class LeNet(nn.Module):
    """conv(1→6, 5) → pool → conv(6→16, 5) → pool → 400 → 120 → 84 → classes (seed 002 §4.3.1)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: Any) -> jax.Array:
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.reshape(x.shape[0], -1)  # (N, 16·5·5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def lenet(num_classes: int = 10, in_channels: int = 1) -> LeNet:
    return LeNet(num_classes, in_channels)
