"""jtorch.utils: `data` (datasets, samplers, DataLoader)."""

from jtorch.utils import data

__all__ = ["data"]
