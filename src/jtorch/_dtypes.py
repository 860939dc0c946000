"""torch's dtype names (`jtorch.float`, `long`, `bfloat16`, ...), `Size` and the default dtype.

Each name is the JAX/numpy dtype of the same meaning, so `x.astype(jtorch.float)` and
`jnp.zeros(3, jtorch.long)` work. The 64-bit names follow `jax_enable_x64` at the moment they
are read: `jtorch.long` is int32 and `jtorch.double` float32 unless x64 is on (JAX's default
precision), instead of each use warning that the requested dtype was truncated.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "Size",
    "get_default_dtype",
    "set_default_dtype",
    "dtype_of",
    "FIXED_DTYPES",
    "X64_DTYPES",
]

# Names whose dtype never depends on jax_enable_x64.
FIXED_DTYPES: dict[str, Any] = {
    "float": jnp.dtype("float32"),
    "float32": jnp.dtype("float32"),
    "half": jnp.dtype("float16"),
    "float16": jnp.dtype("float16"),
    "bfloat16": jnp.dtype(jnp.bfloat16),
    "int": jnp.dtype("int32"),
    "int32": jnp.dtype("int32"),
    "short": jnp.dtype("int16"),
    "int16": jnp.dtype("int16"),
    "int8": jnp.dtype("int8"),
    "uint8": jnp.dtype("uint8"),
    "bool": jnp.dtype("bool"),
    "cfloat": jnp.dtype("complex64"),
    "complex64": jnp.dtype("complex64"),
}

# Names that mean a 64-bit type in torch: the 64-bit dtype when x64 is on, else the 32-bit one.
X64_DTYPES: dict[str, str] = {
    "long": "int64",
    "int64": "int64",
    "double": "float64",
    "float64": "float64",
    "cdouble": "complex128",
    "complex128": "complex128",
}

_default_dtype = [jnp.dtype("float32")]


def dtype_of(name: str) -> Any:
    """The dtype torch calls `name`, canonicalised for the current x64 setting."""
    if name in FIXED_DTYPES:
        return FIXED_DTYPES[name]
    return jnp.dtype(jax.dtypes.canonicalize_dtype(X64_DTYPES[name]))


def to_dtype(dtype: Any, arg: str = "dtype") -> Any:
    """A dtype from a dtype object or torch/numpy name; 64-bit types follow x64 (no warning)."""
    if isinstance(dtype, str) and (dtype in FIXED_DTYPES or dtype in X64_DTYPES):
        return dtype_of(dtype)
    try:
        return jnp.dtype(jax.dtypes.canonicalize_dtype(dtype))
    except TypeError as err:
        raise TypeError(f"`{arg}`: expected a dtype such as jtorch.float32, got {dtype!r}") from err


class Size(tuple):
    """A shape as torch prints it (`torch.Size([2, 3])`); a tuple of ints, so it is also a JAX
    shape."""

    def __new__(cls, sizes: Any = ()) -> Size:
        sizes = tuple(sizes)
        if not all(isinstance(s, (int, np.integer)) for s in sizes):
            raise TypeError(f"Size: expected a sequence of ints, got {sizes!r}")
        return super().__new__(cls, (int(s) for s in sizes))

    def numel(self) -> int:
        """The number of elements of an array of this shape."""
        return int(np.prod(self, dtype=np.int64))

    def __getitem__(self, index: Any) -> Any:
        item = super().__getitem__(index)
        return Size(item) if isinstance(index, slice) else item

    def __repr__(self) -> str:
        return f"torch.Size({list(self)!r})"


def get_default_dtype() -> Any:
    """The floating dtype new float arrays get (torch.get_default_dtype; float32 at start)."""
    return _default_dtype[0]


def set_default_dtype(dtype: Any) -> None:
    """Set the default floating dtype (torch.set_default_dtype): float32, float64 or bfloat16/half.

    float64 turns `jax_enable_x64` on (JAX has no 64-bit arrays without it).
    """
    d = jnp.dtype(dtype)
    if not jnp.issubdtype(d, jnp.floating):
        raise TypeError(f"set_default_dtype: `dtype` must be a floating dtype, got {d}")
    if d == jnp.float64:
        jax.config.update("jax_enable_x64", True)
    _default_dtype[0] = d
