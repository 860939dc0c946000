"""Embedding lookups (embedding, embedding_bag, one_hot)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtorch.nn.functional._utils import _holds_state

__all__ = ["embedding", "embedding_bag", "one_hot"]

_sg = jax.lax.stop_gradient


def _indices(fn: str, input: Any) -> jax.Array:
    idx = jnp.asarray(input)
    if not jnp.issubdtype(idx.dtype, jnp.integer):
        raise ValueError(f"{fn}: `input` must hold integer indices, got dtype {idx.dtype}")
    return idx


def _weight(fn: str, weight: Any) -> jax.Array:
    w = jnp.asarray(weight)
    if w.ndim != 2:
        raise ValueError(
            f"{fn}: `weight` must have shape (num_embeddings, embedding_dim), got shape "
            f"{tuple(w.shape)}"
        )
    return w


def _padding_idx(fn: str, padding_idx: int | None, num: int) -> int | None:
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise ValueError(
            f"{fn}: `padding_idx`={padding_idx} must be within num_embeddings ({num}), i.e. in "
            f"[{-num}, {num - 1}]"
        )
    return padding_idx % num


def _renorm(
    weight: Any, w: jax.Array, idx: jax.Array, max_norm: float | None, norm_type: float
) -> jax.Array:
    """torch's embedding_renorm_: rows looked up with a `norm_type`-norm above `max_norm` are
    scaled to max_norm/(norm + 1e-7). The gradient passes as if the weight were unchanged (torch
    renormalises in place without autograd); a Parameter/Buffer `weight` is updated in place."""
    if max_norm is None:
        return w
    used = jnp.zeros(w.shape[0], bool).at[idx.reshape(-1)].set(True)
    norms = jnp.sum(jnp.abs(_sg(w)) ** norm_type, axis=1) ** (1.0 / norm_type)
    scale = jnp.where(used & (norms > max_norm), max_norm / (norms + 1e-7), 1.0)
    new = _sg(w) * scale[:, None].astype(w.dtype)
    if _holds_state(weight):
        weight.set_value(new)
    return w + _sg(new - w)


def embedding(
    input: Any,
    weight: Any,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> jax.Array:
    """weight[input]: rows of `weight` (num_embeddings, embedding_dim) at integer indices.

    The `padding_idx` row gets no gradient; `max_norm` renormalises the rows looked up (in place
    when `weight` is a Parameter, as in torch); `scale_grad_by_freq` divides each row's gradient
    by its count in `input`.
    Differs from torch: `sparse=True` is accepted but gradients are dense.
    """
    idx = _indices("embedding", input)
    w = _weight("embedding", weight)
    pad = _padding_idx("embedding", padding_idx, w.shape[0])
    w = _renorm(weight, w, idx, max_norm, norm_type)
    rows = jnp.take(w, idx, axis=0)  # (*input.shape, embedding_dim)
    if scale_grad_by_freq:
        counts = jnp.zeros(w.shape[0], w.dtype).at[idx.reshape(-1)].add(1)
        rows = _sg(rows) + (rows - _sg(rows)) / jnp.take(counts, idx)[..., None]
    if pad is not None:
        rows = jnp.where((idx == pad)[..., None], _sg(rows), rows)
    return rows


def embedding_bag(
    input: Any,
    weight: Any,
    offsets: Any = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Any = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> jax.Array:
    """Sum, mean or max of the embedding rows of each bag, (B, embedding_dim).

    Bags are the rows of a 2-D `input` (B, L), or the slices of a 1-D `input` starting at each
    of `offsets` (B,) (B+1 with include_last_offset). `padding_idx` entries are left out of the
    bag (and out of the mean's count); empty bags give zeros.
    Differs from torch: `sparse=True` is accepted but gradients are dense; `scale_grad_by_freq`
    divides each row's gradient by its count in `input` as documented (torch's CPU kernel scales
    some rows by another row's count).
    """
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: `mode` must be 'sum', 'mean' or 'max', got {mode!r}")
    idx = _indices("embedding_bag", input)
    w = _weight("embedding_bag", weight)
    pad = _padding_idx("embedding_bag", padding_idx, w.shape[0])
    psw = None if per_sample_weights is None else jnp.asarray(per_sample_weights)
    if psw is not None and mode != "sum":
        raise ValueError(
            "embedding_bag: `per_sample_weights` is only supported for mode='sum', got "
            f"mode={mode!r}"
        )
    if psw is not None and psw.shape != idx.shape:
        raise ValueError(
            f"embedding_bag: `per_sample_weights` must have the shape of `input` "
            f"{tuple(idx.shape)}, got {tuple(psw.shape)}"
        )
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(
                "embedding_bag: `offsets` must be None when `input` is 2-D (each row is a bag), "
                f"got `input` of shape {tuple(idx.shape)}"
            )
        bags = idx.shape[0]
        segments = jnp.repeat(jnp.arange(bags), idx.shape[1])
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError("embedding_bag: `offsets` is required when `input` is 1-D")
        off = jnp.asarray(offsets)
        if off.ndim != 1:
            raise ValueError(f"embedding_bag: `offsets` must be 1-D, got shape {tuple(off.shape)}")
        bags = off.shape[0] - (1 if include_last_offset else 0)
        segments = jnp.searchsorted(off, jnp.arange(idx.shape[0]), side="right") - 1
    else:
        raise ValueError(
            f"embedding_bag: `input` must be 1-D (with offsets) or 2-D (B, L), got shape "
            f"{tuple(idx.shape)}"
        )
    flat = idx.reshape(-1)
    w = _renorm(weight, w, flat, max_norm, norm_type)
    rows = jnp.take(w, flat, axis=0)  # (total, embedding_dim)
    if scale_grad_by_freq and mode != "max":
        counts = jnp.zeros(w.shape[0], w.dtype).at[flat].add(1)
        rows = _sg(rows) + (rows - _sg(rows)) / jnp.take(counts, flat)[:, None]
    valid = jnp.ones(flat.shape, bool) if pad is None else flat != pad
    # offsets past the end give an empty last bag; ids out of [0, bags) are dropped
    segments = jnp.where(valid, segments, bags)
    if mode == "max":
        neg = jnp.asarray(-jnp.inf, w.dtype)
        out = jax.ops.segment_max(jnp.where(valid[:, None], rows, neg), segments, bags + 1)[:bags]
        return jnp.where(jnp.isneginf(out), jnp.zeros((), w.dtype), out)
    if psw is not None:
        rows = rows * psw.reshape(-1, 1).astype(rows.dtype)
    out = jax.ops.segment_sum(rows, segments, bags + 1)[:bags]
    if mode == "mean":
        count = jax.ops.segment_sum(valid.astype(w.dtype), segments, bags + 1)[:bags]
        out = out / jnp.maximum(count, 1)[:, None]
    return out


def one_hot(tensor: Any, num_classes: int = -1) -> jax.Array:
    """(*, num_classes) array with 1 at each index (num_classes=-1: max index + 1).

    Differs from torch: the result is JAX's default int (int32 unless x64 is on), not int64;
    num_classes=-1 needs concrete indices (outside jit).
    """
    idx = _indices("one_hot", tensor)
    if num_classes == -1:
        values = np.asarray(idx)
        num_classes = int(values.max()) + 1 if values.size else 0
        if values.size and values.min() < 0:
            raise ValueError("one_hot: class values must be non-negative")
    elif num_classes < 1:
        raise ValueError(f"one_hot: `num_classes` must be positive or -1, got {num_classes}")
    return jax.nn.one_hot(idx, num_classes, dtype=int)
