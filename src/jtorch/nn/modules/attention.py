"""MultiheadAttention with torch parameter names."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jtorch import _random
from jtorch.nn import functional as F
from jtorch.nn import init
from jtorch.nn.module import Module, Parameter
from jtorch.nn.modules.linear import Linear

__all__ = ["MultiheadAttention"]


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under torch's name for MultiheadAttention's `out_proj` (same maths, same repr)."""


class MultiheadAttention(Module):
    """Multi-head attention (torch.nn.MultiheadAttention) with torch's parameters:
    `in_proj_weight` (3E, E) and `in_proj_bias` (3E,), or `q_proj_weight`, `k_proj_weight`,
    `v_proj_weight` when kdim/vdim differ from embed_dim; `out_proj` (a Linear); `bias_k`,
    `bias_v` with add_bias_kv. Init as torch: xavier_uniform projections, zero biases.

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (output, weights or None), sequence-first
    (L, N, E) unless batch_first. Boolean masks mark the positions to ignore (True = blocked).
    `rngs=` (keyword-only) draws the initial values and dropout keys from an `nnx.Rngs`.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} "
                f"and num_heads={num_heads} instead"
            )
        if embed_dim % num_heads:
            raise ValueError(
                f"`embed_dim` ({embed_dim}) must be divisible by `num_heads` ({num_heads})"
            )
        dtype = jnp.float32 if dtype is None else dtype
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads

        def xavier(shape: tuple[int, ...]) -> Parameter:
            return Parameter(init.xavier_uniform(_random.next_key(rngs), shape, dtype=dtype))

        if not self._qkv_same_embed_dim:
            self.q_proj_weight = xavier((embed_dim, embed_dim))
            self.k_proj_weight = xavier((embed_dim, self.kdim))
            self.v_proj_weight = xavier((embed_dim, self.vdim))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = xavier((3 * embed_dim, embed_dim))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(jnp.zeros((3 * embed_dim,), dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(
            embed_dim, embed_dim, bias=bias, dtype=dtype, rngs=rngs
        )
        if bias:
            self.out_proj.bias.value = jnp.zeros((embed_dim,), dtype)
        if add_bias_kv:
            shape = (1, 1, embed_dim)
            self.bias_k = Parameter(init.xavier_normal(_random.next_key(rngs), shape, dtype=dtype))
            self.bias_v = Parameter(init.xavier_normal(_random.next_key(rngs), shape, dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self.rngs = _random.fork_rngs(rngs)
        if device is not None:
            self.to(device)

    def forward(
        self,
        query: Any,
        key: Any,
        value: Any,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[jax.Array, jax.Array | None]:
        query, key, value = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
        batched = query.ndim == 3
        if self.batch_first and batched:
            query, key, value = (jnp.swapaxes(x, 0, 1) for x in (query, key, value))
        train = self.training and self.dropout > 0
        out, weights = F.multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
            dropout_key=self.rngs.dropout() if train else None,
        )
        if self.batch_first and batched:
            out = jnp.swapaxes(out, 0, 1)
        return out, weights
