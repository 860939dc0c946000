"""Padding (pad with constant/reflect/replicate/circular modes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")


def pad(
    input: Any, pad: Sequence[int], mode: str = "constant", value: float | None = None
) -> jax.Array:
    """Pad the last len(pad)//2 axes; `pad` lists (left, right) pairs from the LAST axis backwards.

    E.g. pad=(1, 2, 3, 4) pads W by 1 left / 2 right and H by 3 top / 4 bottom, as in
    torch.nn.functional.pad. Modes: 'constant' (fill `value`, default 0; negative pads crop),
    'reflect' (mirror without the edge), 'replicate' (repeat the edge), 'circular' (wrap around).
    """
    x = jnp.asarray(input)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise ValueError(f"pad: `pad` must have an even number of entries, got {pad}")
    n = len(pad) // 2
    if n > x.ndim:
        raise ValueError(
            f"pad: `pad` of length {len(pad)} pads {n} axes, but `input` has shape "
            f"{tuple(x.shape)} ({x.ndim}-D)"
        )
    if mode not in _MODES:
        raise ValueError(f"pad: `mode` must be one of {_MODES}, got {mode!r}")
    # torch order (last axis first) -> one (lo, hi) pair per axis, first axis first
    widths = [(0, 0)] * (x.ndim - n) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(n))]
    if mode == "constant":
        fill = jnp.asarray(0 if value is None else value, x.dtype)
        return lax.pad(x, fill, [(lo, hi, 0) for lo, hi in widths])
    if value not in (None, 0):
        raise ValueError(f"pad: `value` is only used in 'constant' mode, got value={value}")
    if n > 3 or x.ndim < n + 1:
        raise ValueError(
            f"pad: mode {mode!r} pads 1 to 3 trailing axes of a batched or unbatched input; "
            f"got {n} axes to pad for `input` of shape {tuple(x.shape)}"
        )
    for axis, (lo, hi) in enumerate(widths):
        size = x.shape[axis]
        if mode == "reflect" and (lo >= size or hi >= size) and (lo or hi):
            raise ValueError(
                f"pad: 'reflect' padding ({lo}, {hi}) must be smaller than the size {size} of "
                f"axis {axis} of `input` (shape {tuple(x.shape)})"
            )
        if mode == "circular" and (lo > size or hi > size):
            raise ValueError(
                f"pad: 'circular' padding ({lo}, {hi}) must be at most the size {size} of "
                f"axis {axis} of `input` (shape {tuple(x.shape)})"
            )
        if min(lo, hi) < 0:
            raise ValueError(
                f"pad: negative padding ({lo}, {hi}) is only supported in 'constant' mode, "
                f"got mode {mode!r}"
            )
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    return jnp.pad(x, widths, mode=np_mode)
