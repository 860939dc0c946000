"""jtorch.vision: torchvision's `transforms` and `datasets` for jtorch."""

from jtorch.vision import datasets, transforms

__all__ = ["datasets", "transforms"]
