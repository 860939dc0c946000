"""TransformerEncoderLayer and TransformerEncoder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jtorch import _random
from jtorch.nn import functional as F
from jtorch.nn.containers import ModuleList
from jtorch.nn.module import Module
from jtorch.nn.modules.attention import MultiheadAttention
from jtorch.nn.modules.dropout import Dropout
from jtorch.nn.modules.linear import Linear
from jtorch.nn.modules.normalization import LayerNorm

__all__ = ["TransformerEncoderLayer", "TransformerEncoder"]


def _get_activation_fn(activation: str) -> Callable[[Any], jax.Array]:
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise ValueError(f"`activation` should be relu/gelu, not {activation!r}")


def _get_clones(module: Module, n: int) -> ModuleList:
    """`n` independent copies of `module` (torch deep-copies), each with fresh dropout RNGs."""
    clones = []
    for _ in range(n):
        clone = nnx.clone(module)
        for sub in clone.modules():
            if isinstance(vars(sub).get("rngs"), nnx.Rngs):
                sub.rngs = _random.fork_rngs()
        clones.append(clone)
    return ModuleList(clones)


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, a residual and LayerNorm
    (torch.nn.TransformerEncoderLayer): post-norm x = norm1(x + sa(x)), x = norm2(x + ff(x)), or
    pre-norm with `norm_first` x = x + sa(norm1(x)), x = x + ff(norm2(x)).

    Sub-modules carry torch's names: self_attn, linear1, dropout, linear2, norm1, norm2, dropout1,
    dropout2. forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False); src is
    (S, N, E), (N, S, E) with batch_first, or unbatched (S, E).
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Any], Any] = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw, rngs=rngs
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw, rngs=rngs)
        self.dropout = Dropout(dropout, rngs=rngs)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw, rngs=rngs)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout, rngs=rngs)
        self.dropout2 = Dropout(dropout, rngs=rngs)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        self.activation = activation

    def _sa_block(self, x: jax.Array, attn_mask: Any, key_padding_mask: Any) -> jax.Array:
        x = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False
        )[0]
        return self.dropout1(x)

    def _ff_block(self, x: jax.Array) -> jax.Array:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)

    def forward(
        self,
        src: Any,
        src_mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool = False,
    ) -> jax.Array:
        x = jnp.asarray(src)
        if x.ndim not in (2, 3) or x.shape[-1] != self.self_attn.embed_dim:
            raise ValueError(
                f"TransformerEncoderLayer: `src` must be (S, N, {self.self_attn.embed_dim}) "
                f"(batch_first: (N, S, E)) or unbatched (S, E), got shape {tuple(x.shape)}"
            )
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """A stack of `num_layers` copies of `encoder_layer` (`layers.0`, `layers.1`, ...), then
    `norm` if given (torch.nn.TransformerEncoder).

    forward(src, mask=None, src_key_padding_mask=None, is_causal=None).
    Differs from torch: `enable_nested_tensor` and `mask_check` are accepted and ignored (no
    nested-tensor fast path; in torch's no-grad eval fast path padded positions come out as 0,
    here they hold the computed values); `is_causal` is only a hint, the mask is always used.
    """

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ):
        super().__init__()
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"`num_layers` must be a positive int, got {num_layers!r}")
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(
        self,
        src: Any,
        mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool | None = None,
    ) -> jax.Array:
        output = jnp.asarray(src)
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output
