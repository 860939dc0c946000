"""Argument normalisation shared by the functional layers (torch's _single/_pair/_triple)."""

from __future__ import annotations

from collections.abc import Iterable


def _ntuple(value, n: int, name: str) -> tuple:
    """Expand an int to an n-tuple, or check an iterable has n entries; `name` is used in errors."""
    if isinstance(value, Iterable) and not isinstance(value, str):
        out = tuple(value)
        if len(out) != n:
            raise ValueError(f"`{name}` must be an int or a tuple of {n} ints, got {value!r}")
        return out
    return (value,) * n


def _single(value, name: str = "value") -> tuple:
    return _ntuple(value, 1, name)


def _pair(value, name: str = "value") -> tuple:
    return _ntuple(value, 2, name)


def _triple(value, name: str = "value") -> tuple:
    return _ntuple(value, 3, name)


def _check_ndim(fn: str, name: str, x, allowed: tuple[int, ...], layout: str) -> None:
    """Raise ValueError unless `x.ndim` is in `allowed`; `layout` describes the expected shape."""
    if x.ndim not in allowed:
        raise ValueError(
            f"{fn}: `{name}` must have shape {layout} ({' or '.join(map(str, allowed))}-D), "
            f"got shape {tuple(x.shape)}"
        )


def _holds_state(x) -> bool:
    """Whether `x` is a state holder that torch's in-place updates write to (a Parameter or
    Buffer: anything with `get_value`/`set_value`), rather than an immutable array. The maths
    names the protocol, not the shell's classes."""
    return hasattr(x, "set_value") and hasattr(x, "get_value")
