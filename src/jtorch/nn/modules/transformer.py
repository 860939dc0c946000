"""Transformer, its encoder and decoder stacks and their layers (torch.nn.Transformer*)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jtorch import _device, _random
from jtorch.nn import functional as F
from jtorch.nn import init
from jtorch.nn.containers import ModuleList
from jtorch.nn.module import Module
from jtorch.nn.modules.activation import GELU, ReLU
from jtorch.nn.modules.attention import MultiheadAttention
from jtorch.nn.modules.dropout import Dropout
from jtorch.nn.modules.linear import Linear
from jtorch.nn.modules.normalization import LayerNorm

__all__ = [
    "Transformer",
    "TransformerEncoder",
    "TransformerDecoder",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
]

_TORCH_F = ("torch.nn.functional", "torch._C._nn")  # where torch defines F.relu, F.gelu


def _get_activation_fn(activation: Any) -> Callable[[Any], jax.Array]:
    """torch's "relu"/"gelu" strings, torch's own F.relu/F.gelu (mapped to jtorch's, since
    they cannot run on JAX arrays) or any other callable, e.g. jtorch's F.gelu or nn.GELU()."""
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise ValueError(f"`activation` should be relu/gelu, not {activation!r}")
    if not callable(activation):
        raise TypeError(
            f"`activation` must be 'relu', 'gelu' or a callable, got {type(activation).__name__}"
        )
    name = getattr(activation, "__name__", None)
    if name in ("relu", "gelu") and getattr(activation, "__module__", None) in _TORCH_F:
        return getattr(F, name)
    return activation


def _relu_or_gelu(activation: Any) -> int:
    """torch's `activation_relu_or_gelu` flag: 1 for ReLU, 2 for GELU, 0 for anything else."""
    if activation is F.relu or isinstance(activation, ReLU):
        return 1
    if activation is F.gelu or isinstance(activation, GELU):
        return 2
    return 0


def _get_clones(module: Module, n: int) -> ModuleList:
    """`n` independent copies of `module` (torch deep-copies), each with fresh dropout RNGs."""
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"`num_layers` must be a positive int, got {n!r}")
    clones = []
    for _ in range(n):
        clone = nnx.compat.clone(module)
        for sub in clone.modules():
            if isinstance(vars(sub).get("rngs"), nnx.Rngs):
                sub.rngs = _random.fork_rngs()
        clones.append(clone)
    return ModuleList(clones)


def _check_seq(x: jax.Array, d_model: int, who: str, arg: str) -> None:
    if x.ndim not in (2, 3) or x.shape[-1] != d_model:
        raise ValueError(
            f"{who}: `{arg}` must be (L, N, {d_model}) (batch_first: (N, L, {d_model})) "
            f"or unbatched (L, {d_model}), got shape {tuple(x.shape)}"
        )


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, a residual and LayerNorm
    (torch.nn.TransformerEncoderLayer): post-norm x = norm1(x + sa(x)), x = norm2(x + ff(x)), or
    pre-norm with `norm_first` x = x + sa(norm1(x)), x = x + ff(norm2(x)).

    Sub-modules carry torch's names: self_attn, linear1, dropout, linear2, norm1, norm2, dropout1,
    dropout2. forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False); src is
    (S, N, E), (N, S, E) with batch_first, or unbatched (S, E). `activation` is "relu", "gelu"
    or a callable (torch's own F.relu/F.gelu are mapped to jtorch's).
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
        activation = _get_activation_fn(activation)
        self.activation_relu_or_gelu = _relu_or_gelu(activation)
        self.activation = activation

    def _sa_block(
        self, x: jax.Array, attn_mask: Any, key_padding_mask: Any, is_causal: bool
    ) -> jax.Array:
        x = self.self_attn(
            x,
            x,
            x,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
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
        _check_seq(x, self.self_attn.embed_dim, "TransformerEncoderLayer", "src")
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's `memory`, then a feed-forward block, each
    with dropout, a residual and LayerNorm (torch.nn.TransformerDecoderLayer): post-norm
    x = norm1(x + sa(x)), x = norm2(x + mha(x, memory)), x = norm3(x + ff(x)), or pre-norm with
    `norm_first` x = x + sa(norm1(x)), x = x + mha(norm2(x), memory), x = x + ff(norm3(x)).

    Sub-modules carry torch's names: self_attn, multihead_attn, linear1, dropout, linear2,
    norm1-3, dropout1-3. forward(tgt, memory, tgt_mask=None, memory_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=False,
    memory_is_causal=False); tgt is (T, N, E), (N, T, E) with batch_first, or unbatched (T, E);
    memory likewise with the source length S.
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
        mha = dict(dropout=dropout, batch_first=batch_first, bias=bias, **kw, rngs=rngs)
        self.self_attn = MultiheadAttention(d_model, nhead, **mha)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **mha)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw, rngs=rngs)
        self.dropout = Dropout(dropout, rngs=rngs)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw, rngs=rngs)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout, rngs=rngs)
        self.dropout2 = Dropout(dropout, rngs=rngs)
        self.dropout3 = Dropout(dropout, rngs=rngs)
        self.activation = _get_activation_fn(activation)

    def _sa_block(
        self, x: jax.Array, attn_mask: Any, key_padding_mask: Any, is_causal: bool
    ) -> jax.Array:
        x = self.self_attn(
            x,
            x,
            x,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            is_causal=is_causal,
            need_weights=False,
        )[0]
        return self.dropout1(x)

    def _mha_block(
        self, x: jax.Array, mem: jax.Array, attn_mask: Any, key_padding_mask: Any, is_causal: bool
    ) -> jax.Array:
        x = self.multihead_attn(
            x,
            mem,
            mem,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            is_causal=is_causal,
            need_weights=False,
        )[0]
        return self.dropout2(x)

    def _ff_block(self, x: jax.Array) -> jax.Array:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)

    def forward(
        self,
        tgt: Any,
        memory: Any,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> jax.Array:
        x, mem = jnp.asarray(tgt), jnp.asarray(memory)
        d_model = self.self_attn.embed_dim
        _check_seq(x, d_model, "TransformerDecoderLayer", "tgt")
        _check_seq(mem, d_model, "TransformerDecoderLayer", "memory")
        if mem.ndim != x.ndim:
            raise ValueError(
                "TransformerDecoderLayer: `tgt` and `memory` must both be batched or both "
                f"unbatched, got shapes {tuple(x.shape)} and {tuple(mem.shape)}"
            )
        mem_args = (memory_mask, memory_key_padding_mask, memory_is_causal)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), mem, *mem_args)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, mem, *mem_args))
            x = self.norm3(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """A stack of `num_layers` copies of `encoder_layer` (`layers.0`, `layers.1`, ...), then
    `norm` if given (torch.nn.TransformerEncoder).

    forward(src, mask=None, src_key_padding_mask=None, is_causal=None).
    Differs from torch: `enable_nested_tensor` and `mask_check` are accepted and ignored (no
    nested-tensor fast path; in torch's no-grad eval fast path padded positions come out as 0,
    here they hold the computed values); `is_causal=None` does not look at the mask's values to
    detect a causal mask (torch's detection only picks a kernel: the result is the same).
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
            output = layer(
                output,
                src_mask=mask,
                src_key_padding_mask=src_key_padding_mask,
                is_causal=bool(is_causal),
            )
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """A stack of `num_layers` copies of `decoder_layer` (`layers.0`, `layers.1`, ...), then
    `norm` if given (torch.nn.TransformerDecoder).

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False).
    Differs from torch: `tgt_is_causal=None` does not look at the mask's values (see
    TransformerEncoder).
    """

    def __init__(
        self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None
    ):
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Any,
        memory: Any,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> jax.Array:
        output = jnp.asarray(tgt)
        for layer in self.layers:
            output = layer(
                output,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=bool(tgt_is_causal),
                memory_is_causal=memory_is_causal,
            )
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """Encoder-decoder transformer (torch.nn.Transformer): `encoder` is a TransformerEncoder of
    `num_encoder_layers` layers with a final LayerNorm, `decoder` a TransformerDecoder of
    `num_decoder_layers` layers with a final LayerNorm (or `custom_encoder`/`custom_decoder`).
    Every parameter with more than one dimension is re-drawn xavier-uniform, as torch does.

    forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None,
    tgt_is_causal=None, memory_is_causal=False) -> (T, N, E), (N, T, E) with batch_first, or
    (T, E) unbatched.
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Any], Any] = F.relu,
        custom_encoder: Any | None = None,
        custom_decoder: Any | None = None,
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
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps)
        layer_kw = dict(
            batch_first=batch_first, norm_first=norm_first, bias=bias, dtype=dtype, rngs=rngs
        )
        norm_kw = dict(eps=layer_norm_eps, bias=bias, dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*layer_args, **layer_kw),
                num_encoder_layers,
                LayerNorm(d_model, **norm_kw),
            )
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*layer_args, **layer_kw),
                num_decoder_layers,
                LayerNorm(d_model, **norm_kw),
            )
        self._reset_parameters(rngs)
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first
        if device is not None:
            self.to(device)

    def _reset_parameters(self, rngs: nnx.Rngs | None) -> None:
        for p in self.parameters():
            if p.value.ndim > 1:
                key = _random.next_key(rngs)
                p.value = init.xavier_uniform(key, p.value.shape, dtype=p.value.dtype)

    def forward(
        self,
        src: Any,
        tgt: Any,
        src_mask: Any = None,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        src_key_padding_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> jax.Array:
        src, tgt = jnp.asarray(src), jnp.asarray(tgt)
        batch_axis = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[batch_axis] != tgt.shape[batch_axis]):
            raise ValueError(
                "Transformer: the batch number of src and tgt must be equal, got shapes "
                f"{tuple(src.shape)} and {tuple(tgt.shape)} (batch_first={self.batch_first})"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(
                f"Transformer: the feature number of src and tgt must be equal to d_model "
                f"({self.d_model}), got shapes {tuple(src.shape)} and {tuple(tgt.shape)}"
            )
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(
        sz: int, device: Any = None, dtype: Any = None
    ) -> jax.Array:
        """The (sz, sz) causal mask: 0 on and below the diagonal, -inf above (float32 default)."""
        if not isinstance(sz, int) or sz < 0:
            raise ValueError(f"`sz` must be a non-negative int, got {sz!r}")
        dtype = jnp.float32 if dtype is None else dtype
        mask = jnp.triu(jnp.full((sz, sz), -jnp.inf, dtype), k=1)
        return mask if device is None else _device.to(mask, device)
