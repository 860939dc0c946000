"""Dropout modules: active in train mode, identity in eval mode."""

from __future__ import annotations

from typing import Any

import jax
from flax import nnx

from jtorch import _random
from jtorch.nn import functional as F
from jtorch.nn.module import Module

__all__ = [
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "AlphaDropout",
    "FeatureAlphaDropout",
]


class _DropoutNd(Module):
    """Holds `p`, `inplace` and the module's own RNG stream (advanced on every call)."""

    def __init__(self, p: float = 0.5, inplace: bool = False, *, rngs: nnx.Rngs | None = None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace
        # Forked from the global RNG: inside a compiled step its counter is part of the state,
        # so every call draws a fresh mask.
        self.rngs = _random.fork_rngs(rngs)

    def _apply(self, fn: Any, input: Any) -> jax.Array:
        """Call `fn(input, p, training, key=...)`, drawing a key only when a mask is needed."""
        if not self.training or self.p == 0.0:
            return fn(input, self.p, False)
        return fn(input, self.p, True, key=self.rngs.dropout())

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero elements with probability p in train mode, scaling the rest by 1/(1−p)."""

    def forward(self, input: Any) -> jax.Array:
        if not self.training or self.p == 0.0:
            return F.dropout(input, self.p, training=False)
        return F.dropout(input, self.p, training=True, key=self.rngs.dropout())


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) with probability p in train mode."""

    def forward(self, input: Any) -> jax.Array:
        return self._apply(F.dropout1d, input)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) with probability p in train mode."""

    def forward(self, input: Any) -> jax.Array:
        return self._apply(F.dropout2d, input)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability p in train mode."""

    def forward(self, input: Any) -> jax.Array:
        return self._apply(F.dropout3d, input)


class AlphaDropout(_DropoutNd):
    """Alpha dropout (keeps SELU's zero mean and unit variance) in train mode."""

    def forward(self, input: Any) -> jax.Array:
        return self._apply(F.alpha_dropout, input)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels of (N, C, *) in train mode."""

    def forward(self, input: Any) -> jax.Array:
        return self._apply(F.feature_alpha_dropout, input)
