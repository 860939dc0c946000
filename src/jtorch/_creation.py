"""Array creation with torch's call forms: `randn(3, 5)`, `rand([50, 1])`, `tensor([[1., 2.]])`.

Random draws come from the global default RNG (`jtorch.manual_seed`); pass `generator=` (a PRNG key
or an `nnx.Rngs`) to draw from elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jtorch import _random
from jtorch._device import resolve_device

__all__ = ["tensor", "as_tensor", "rand", "randn", "randint", "zeros", "ones", "full", "arange"]


def _shape(size: tuple, fn: str) -> tuple[int, ...]:
    """Accept `f(3, 5)`, `f((3, 5))` and `f([3, 5])` like torch."""
    if len(size) == 1 and isinstance(size[0], Sequence):
        size = tuple(size[0])
    if not all(isinstance(s, int) and s >= 0 for s in size):
        raise ValueError(f"{fn}: `size` must be non-negative ints, got {size!r}")
    return tuple(size)


def _key(generator: Any) -> jax.Array:
    if generator is None:
        return _random.next_key()
    if isinstance(generator, nnx.Rngs):
        return generator.default()
    return generator


def _place(x: jax.Array, device: Any) -> jax.Array:
    return x if device is None else jax.device_put(x, resolve_device(device))


def tensor(
    data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> jax.Array:
    """An array from nested lists, numbers, numpy or torch data (torch.tensor)."""
    from jtorch.nn.module import _to_jax

    arr = _to_jax(data, "data") if type(data).__module__.startswith("torch") else jnp.asarray(data)
    return _place(arr.astype(dtype) if dtype is not None else arr, device)


as_tensor = tensor


def rand(
    *size: Any, generator: Any = None, dtype: Any = jnp.float32, device: Any = None
) -> jax.Array:
    """Uniform samples on [0, 1) (torch.rand)."""
    return _place(jax.random.uniform(_key(generator), _shape(size, "rand"), dtype), device)


def randn(
    *size: Any, generator: Any = None, dtype: Any = jnp.float32, device: Any = None
) -> jax.Array:
    """Standard normal samples (torch.randn)."""
    return _place(jax.random.normal(_key(generator), _shape(size, "randn"), dtype), device)


def randint(
    low: int,
    high: int | None = None,
    size: Sequence[int] = (),
    *,
    generator: Any = None,
    dtype: Any = jnp.int32,
    device: Any = None,
) -> jax.Array:
    """Integers uniform on [low, high) (torch.randint; `randint(high, size)` also works)."""
    if high is None or (isinstance(high, Sequence) and not size):
        low, high, size = 0, low, high if high is not None else size
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    return _place(jax.random.randint(_key(generator), tuple(size), low, high, dtype), device)


def zeros(*size: Any, dtype: Any = jnp.float32, device: Any = None) -> jax.Array:
    return _place(jnp.zeros(_shape(size, "zeros"), dtype), device)


def ones(*size: Any, dtype: Any = jnp.float32, device: Any = None) -> jax.Array:
    return _place(jnp.ones(_shape(size, "ones"), dtype), device)


def full(size: Sequence[int], fill_value: Any, dtype: Any = None, device: Any = None) -> jax.Array:
    return _place(jnp.full(tuple(size), fill_value, dtype), device)


def arange(
    start: Any, end: Any = None, step: Any = 1, dtype: Any = None, device: Any = None
) -> jax.Array:
    return _place(jnp.arange(start, end, step, dtype=dtype), device)
