"""Embedding and EmbeddingBag."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jtorch import _random
from jtorch.nn import functional as F
from jtorch.nn import init
from jtorch.nn.module import Module, Parameter, _to_jax
from jtorch.nn.modules._args import check_int

__all__ = ["Embedding", "EmbeddingBag"]


def _normalise_padding_idx(padding_idx: int | None, num_embeddings: int) -> int | None:
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(
            f"`padding_idx`={padding_idx} must be within num_embeddings ({num_embeddings})"
        )
    return padding_idx % num_embeddings


def _init_weight(
    module: Module,
    num_embeddings: int,
    embedding_dim: int,
    padding_idx: int | None,
    _weight: Any,
    _freeze: bool,
    dtype: Any,
    rngs: nnx.Rngs | None,
) -> None:
    """N(0, 1) weight with a zero padding row (torch's init), or the given `_weight` as is."""
    shape = (num_embeddings, embedding_dim)
    if _weight is None:
        dtype = jnp.float32 if dtype is None else dtype
        weight = init.normal(_random.next_key(rngs), shape, 0.0, 1.0, dtype)
        if padding_idx is not None:
            weight = weight.at[padding_idx].set(0)
    else:
        weight = _to_jax(_weight, "_weight")
        if tuple(weight.shape) != shape:
            raise ValueError(
                f"`_weight` must have shape {shape} (num_embeddings, embedding_dim), got shape "
                f"{tuple(weight.shape)}"
            )
    module.weight = Parameter(weight, requires_grad=not _freeze)


def _from_2d(embeddings: Any) -> jax.Array:
    weight = _to_jax(embeddings, "embeddings")
    if weight.ndim != 2:
        raise ValueError(
            f"from_pretrained: `embeddings` must be 2-D (num_embeddings, embedding_dim), got "
            f"shape {tuple(weight.shape)}"
        )
    return weight


def _lookup_weight(module: Module) -> Any:
    """The weight for the functional lookup: the Parameter itself when `max_norm` renormalises
    rows in place, else its array."""
    return module.weight if module.max_norm is not None else module.weight.value


def _norm_repr(module: Module) -> str:
    """The max_norm / norm_type / scale_grad_by_freq part of extra_repr, non-defaults only."""
    s = ""
    if module.max_norm is not None:
        s += f", max_norm={module.max_norm}"
    if module.norm_type != 2:
        s += f", norm_type={module.norm_type}"
    if module.scale_grad_by_freq is not False:
        s += f", scale_grad_by_freq={module.scale_grad_by_freq}"
    return s


class Embedding(Module):
    """A lookup table: `weight[input]` with weight (num_embeddings, embedding_dim) ~ N(0, 1).

    `rngs=` (keyword-only) draws the initial weight from an `nnx.Rngs` instead of the global RNG.
    Differs from torch: `sparse=True` is accepted but gradients are dense.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Any = None,
        _freeze: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__()
        num_embeddings = check_int("Embedding", "num_embeddings", num_embeddings, 0)
        embedding_dim = check_int("Embedding", "embedding_dim", embedding_dim, 0)
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _normalise_padding_idx(padding_idx, num_embeddings)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        _init_weight(
            self, num_embeddings, embedding_dim, self.padding_idx, _weight, _freeze, dtype, rngs
        )
        if device is not None:
            self.to(device)

    def forward(self, input: Any) -> jax.Array:
        return F.embedding(
            input,
            _lookup_weight(self),
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        s += _norm_repr(self)
        if self.sparse is not False:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Any,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding holding `embeddings` (2-D) as its weight, frozen unless freeze=False."""
        weight = _from_2d(embeddings)
        return cls(
            weight.shape[0],
            weight.shape[1],
            padding_idx=padding_idx,
            max_norm=max_norm,
            norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq,
            sparse=sparse,
            _weight=weight,
            _freeze=freeze,
        )


class EmbeddingBag(Module):
    """Sum, mean or max of the embeddings of each bag (torch.nn.EmbeddingBag).

    Differs from torch: `sparse=True` is accepted but gradients are dense.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        _weight: Any = None,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__()
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: `mode` must be 'sum', 'mean' or 'max', got {mode!r}")
        num_embeddings = check_int("EmbeddingBag", "num_embeddings", num_embeddings, 0)
        embedding_dim = check_int("EmbeddingBag", "embedding_dim", embedding_dim, 0)
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset
        self.padding_idx = _normalise_padding_idx(padding_idx, num_embeddings)
        _init_weight(
            self, num_embeddings, embedding_dim, self.padding_idx, _weight, False, dtype, rngs
        )
        if device is not None:
            self.to(device)

    def forward(self, input: Any, offsets: Any = None, per_sample_weights: Any = None) -> jax.Array:
        return F.embedding_bag(
            input,
            _lookup_weight(self),
            offsets,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.mode,
            self.sparse,
            per_sample_weights,
            self.include_last_offset,
            self.padding_idx,
        )

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}" + _norm_repr(self)
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Any,
        freeze: bool = True,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
    ) -> EmbeddingBag:
        """An EmbeddingBag holding `embeddings` (2-D) as its weight, frozen unless freeze=False."""
        weight = _from_2d(embeddings)
        bag = cls(
            weight.shape[0],
            weight.shape[1],
            max_norm,
            norm_type,
            scale_grad_by_freq,
            mode,
            sparse,
            weight,
            include_last_offset,
            padding_idx,
        )
        bag.weight.requires_grad = not freeze
        return bag
