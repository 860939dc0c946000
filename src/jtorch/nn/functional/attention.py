"""Scaled dot-product and multi-head attention with torch's packed projections."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jtorch.nn.functional.dropout import dropout as _dropout

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _opt(x: Any) -> jax.Array | None:
    return None if x is None else jnp.asarray(x)


def _as_bias(mask: jax.Array | None, dtype: Any, true_means_keep: bool) -> jax.Array | None:
    """A boolean or float mask as an additive float bias (−inf where attention is blocked)."""
    if mask is None:
        return None
    if mask.dtype == jnp.bool_:
        blocked = ~mask if true_means_keep else mask
        return jnp.where(blocked, -jnp.inf, 0.0).astype(dtype)
    if not jnp.issubdtype(mask.dtype, jnp.floating):
        raise ValueError(f"only bool and floating types of masks are supported, got {mask.dtype}")
    return mask.astype(dtype)


def _attend(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    bias: jax.Array | None,
    scale: float,
    dropout_p: float,
    dropout_key: jax.Array | None,
) -> tuple[jax.Array, jax.Array]:
    """softmax(q·kᵀ·scale + bias)·v over the last two axes; returns (output, weights)."""
    scores = (q * scale) @ jnp.swapaxes(k, -1, -2)  # (..., L, S)
    if bias is not None:
        scores = scores + bias
    weights = jax.nn.softmax(scores, axis=-1)
    if dropout_p > 0.0:
        # no key: F.dropout draws from the global generator, as torch's attention dropout does
        weights = _dropout(weights, dropout_p, True, key=dropout_key)
    return weights @ v, weights


def scaled_dot_product_attention(
    query: Any,
    key: Any,
    value: Any,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
    *,
    dropout_key: jax.Array | None = None,
) -> jax.Array:
    """softmax(Q·Kᵀ·scale + mask)·V with scale = 1/√E by default
    (torch.nn.functional.scaled_dot_product_attention).

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev). A boolean
    `attn_mask` marks the pairs that take part (True = attend); a float mask is added to the
    scores. `is_causal` keeps the lower triangle. Dropout on the weights is always applied when
    `dropout_p > 0`, as in torch.

    `dropout_key` (keyword-only) gives the dropout randomness explicitly; without it a draw
    comes from jtorch's global generator, as torch's does.
    """
    q, k, v = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2 or q.shape[-1] != k.shape[-1]:
        raise ValueError(
            "scaled_dot_product_attention: expected query (..., L, E), key (..., S, E) and "
            f"value (..., S, Ev), got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            "scaled_dot_product_attention: key and value must have the same sequence length, "
            f"got key {tuple(k.shape)} and value {tuple(v.shape)}"
        )
    if is_causal and attn_mask is not None:
        raise ValueError(
            "scaled_dot_product_attention: `attn_mask` must be None when is_causal=True"
        )
    if enable_gqa and q.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        if q.shape[-3] % k.shape[-3]:
            raise ValueError(
                f"scaled_dot_product_attention: query heads ({q.shape[-3]}) must be a multiple "
                f"of key/value heads ({k.shape[-3]}) with enable_gqa=True"
            )
        k = jnp.repeat(k, q.shape[-3] // k.shape[-3], axis=-3)
        v = jnp.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
    L, S = q.shape[-2], k.shape[-2]
    mask = _opt(attn_mask)
    if is_causal:
        mask = jnp.tril(jnp.ones((L, S), jnp.bool_))
    bias = _as_bias(mask, q.dtype, true_means_keep=True)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    out, _ = _attend(q, k, v, bias, scale, dropout_p, dropout_key)
    return out


def multi_head_attention_forward(
    query: Any,
    key: Any,
    value: Any,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Any,
    in_proj_bias: Any,
    bias_k: Any,
    bias_v: Any,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Any,
    out_proj_bias: Any,
    training: bool = True,
    key_padding_mask: Any = None,
    need_weights: bool = True,
    attn_mask: Any = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Any = None,
    k_proj_weight: Any = None,
    v_proj_weight: Any = None,
    static_k: Any = None,
    static_v: Any = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
    *,
    dropout_key: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array | None]:
    """Multi-head attention, Attention(Q·W_qᵀ, K·W_kᵀ, V·W_vᵀ) per head, concatenated, then
    the output projection (torch.nn.functional.multi_head_attention_forward).

    Inputs are sequence-first: query (L, N, E), key (S, N, kdim), value (S, N, vdim), or
    unbatched (L, E). Boolean masks mark blocked positions (True = ignore, unlike
    `scaled_dot_product_attention`); float masks are added to the scores. `attn_mask` is (L, S)
    or (N·num_heads, L, S); `key_padding_mask` is (N, S). Returns (output (L, N, E), weights):
    weights are (N, L, S) averaged over heads, (N, num_heads, L, S) otherwise, or None when
    `need_weights=False`. `is_causal` needs an `attn_mask` and, as in torch, replaces it by the
    causal mask (query i attends keys j <= i) when there is no `key_padding_mask` and
    `need_weights=False`; otherwise `attn_mask` is used as given.

    `dropout_key` (keyword-only) gives the dropout randomness explicitly; without it a draw
    comes from jtorch's global generator, as torch's does.
    """
    fn = "multi_head_attention_forward"
    query, key, value = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
    kpm, mask = _opt(key_padding_mask), _opt(attn_mask)
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(
            f"{fn}: expected query, key and value all 3-D (L, N, E) or all 2-D (L, E), got "
            f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
        )
    batched = query.ndim == 3
    if kpm is not None and kpm.ndim != (2 if batched else 1):
        raise ValueError(
            f"{fn}: `key_padding_mask` must be {'(N, S)' if batched else '(S,)'}, "
            f"got shape {tuple(kpm.shape)}"
        )
    if is_causal and mask is None:
        raise ValueError(
            f"{fn}: Need attn_mask if specifying the is_causal hint. You may use the "
            "Transformer module method `generate_square_subsequent_mask` to create this mask."
        )
    causal = is_causal and kpm is None and not need_weights
    if causal:
        mask = None  # torch hands is_causal to scaled_dot_product_attention instead
    if not batched:
        query, key, value = query[:, None], key[:, None], value[:, None]
        kpm = None if kpm is None else kpm[None]
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise ValueError(
            f"{fn}: was expecting embedding dimension of {embed_dim_to_check}, got {embed_dim}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise ValueError(f"{fn}: embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if key.shape[:2] != value.shape[:2] or (
        not use_separate_proj_weight and key.shape != value.shape
    ):
        raise ValueError(
            f"{fn}: key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}"
        )

    # in-projection: packed (3E, E) weight or separate q/k/v weights, bias chunks b_q, b_k, b_v
    b = _opt(in_proj_bias)
    b_q, b_k, b_v = (None, None, None) if b is None else jnp.split(b, 3)
    if use_separate_proj_weight:
        w_q, w_k, w_v = (jnp.asarray(w) for w in (q_proj_weight, k_proj_weight, v_proj_weight))
    else:
        w_q, w_k, w_v = jnp.split(jnp.asarray(in_proj_weight), 3)

    def proj(x: jax.Array, w: jax.Array, bias: jax.Array | None) -> jax.Array:
        y = x @ w.T
        return y if bias is None else y + bias

    q, k, v = proj(query, w_q, b_q), proj(key, w_k, b_k), proj(value, w_v, b_v)

    # masks as additive biases: attn (1 or N·H, L, S), key padding (N, S)
    bias_mask = _as_bias(mask, q.dtype, true_means_keep=False)
    if bias_mask is not None:
        want = [(tgt_len, src_len), (bsz * num_heads, tgt_len, src_len)]
        if tuple(bias_mask.shape) not in want:
            raise ValueError(
                f"{fn}: `attn_mask` must have shape {want[0]} or {want[1]}, "
                f"got {tuple(bias_mask.shape)}"
            )
        if bias_mask.ndim == 2:
            bias_mask = bias_mask[None]
    kpm_bias = _as_bias(kpm, q.dtype, true_means_keep=False)
    if kpm_bias is not None and tuple(kpm_bias.shape) != (bsz, src_len):
        raise ValueError(
            f"{fn}: `key_padding_mask` must have shape {(bsz, src_len)}, "
            f"got {tuple(kpm_bias.shape)}"
        )

    def pad_masks() -> None:
        nonlocal bias_mask, kpm_bias
        if bias_mask is not None:
            bias_mask = jnp.pad(bias_mask, ((0, 0), (0, 0), (0, 1)))
        if kpm_bias is not None:
            kpm_bias = jnp.pad(kpm_bias, ((0, 0), (0, 1)))

    if (bias_k is None) != (bias_v is None):
        raise ValueError(f"{fn}: `bias_k` and `bias_v` must be given together")
    if bias_k is not None:
        k = jnp.concatenate([k, jnp.broadcast_to(jnp.asarray(bias_k), (1, bsz, embed_dim))])
        v = jnp.concatenate([v, jnp.broadcast_to(jnp.asarray(bias_v), (1, bsz, embed_dim))])
        pad_masks()

    # heads: (S, N, E) -> (N·H, S, head_dim) as torch, then (N, H, S, head_dim)
    def heads(x: jax.Array) -> jax.Array:
        return jnp.swapaxes(x.reshape(x.shape[0], bsz * num_heads, head_dim), 0, 1)

    q = heads(q)
    k = heads(k) if static_k is None else jnp.asarray(static_k)
    v = heads(v) if static_v is None else jnp.asarray(static_v)
    if add_zero_attn:
        zeros = jnp.zeros((bsz * num_heads, 1, head_dim), k.dtype)
        k = jnp.concatenate([k, zeros], axis=1)
        v = jnp.concatenate([v, zeros], axis=1)
        pad_masks()
    src_len = k.shape[1]
    q, k, v = (x.reshape(bsz, num_heads, -1, head_dim) for x in (q, k, v))
    bias = None
    if bias_mask is not None:
        bias = bias_mask.reshape(-1, num_heads if bias_mask.shape[0] > 1 else 1, tgt_len, src_len)
    if kpm_bias is not None:
        kpm4 = kpm_bias[:, None, None, :]  # (N, 1, 1, S)
        bias = kpm4 if bias is None else bias + kpm4
    if causal:
        keep = jnp.tril(jnp.ones((tgt_len, src_len), jnp.bool_))
        bias = _as_bias(keep, q.dtype, true_means_keep=True)

    if not training:
        dropout_p = 0.0
    # (N, H, L, head_dim), (N, H, L, S)
    out, weights = _attend(q, k, v, bias, 1.0 / math.sqrt(head_dim), dropout_p, dropout_key)
    out = jnp.transpose(out, (2, 0, 1, 3)).reshape(tgt_len, bsz, embed_dim)
    out = proj(out, jnp.asarray(out_proj_weight), _opt(out_proj_bias))
    if not need_weights:
        return (out if batched else out[:, 0]), None
    if average_attn_weights:
        weights = weights.mean(axis=1)
    if not batched:
        return out[:, 0], weights[0]
    return out, weights
