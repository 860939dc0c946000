"""Optimizers: torch.optim's classes (facades) and their pure optax forms (lowercase)."""

from jtorch.optim.optimizer import Optimizer
from jtorch.optim.sgd import SGD, sgd

__all__ = ["Optimizer", "SGD", "sgd"]
