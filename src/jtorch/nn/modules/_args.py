"""Constructor argument checks shared by the layers: each error names the layer, the argument,
the value received and what was expected (where torch would fail later, or with "negative
dimensions are not allowed", jtorch fails at construction)."""

from __future__ import annotations

import operator
from typing import Any

__all__ = ["check_int", "check_ints"]


def check_int(layer: str, name: str, value: Any, minimum: int) -> int:
    """`value` as an int >= `minimum` (ints and integer scalars such as numpy's, not bools)."""
    try:
        number = operator.index(value)
    except TypeError:
        number = None
    if number is None or isinstance(value, bool) or number < minimum:
        raise ValueError(f"{layer}: `{name}` must be an integer >= {minimum}, got {value!r}")
    return number


def check_ints(layer: str, name: str, values: tuple, minimum: int) -> tuple[int, ...]:
    """Every entry of the tuple `values` checked with `check_int`."""
    for v in values:
        if isinstance(v, bool) or not hasattr(type(v), "__index__") or operator.index(v) < minimum:
            raise ValueError(
                f"{layer}: `{name}` must be an integer >= {minimum} or a tuple of them, got "
                f"{values if len(values) > 1 else values[0]!r}"
            )
    return tuple(operator.index(v) for v in values)
