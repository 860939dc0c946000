"""Array creation with torch's call forms: `randn(3, 5)`, `rand([50, 1])`, `tensor([[1., 2.]])`.

Random draws come from the global default RNG (`jtorch.manual_seed`), inside `jtorch.jit`-compiled
and differentiated functions too (see `jtorch._random`); pass `generator=` (a `jtorch.Generator`, an
`nnx.Rngs` or a PRNG key) to draw from elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtorch import _random
from jtorch._device import resolve_device

__all__ = [
    "tensor",
    "as_tensor",
    "rand",
    "randn",
    "randint",
    "rand_like",
    "randn_like",
    "randint_like",
    "bernoulli",
    "multinomial",
    "randperm",
    "normal",
    "zeros",
    "ones",
    "full",
    "arange",
]


def _shape(size: tuple, fn: str) -> tuple[int, ...]:
    """Accept `f(3, 5)`, `f((3, 5))` and `f([3, 5])` like torch."""
    if len(size) == 1 and isinstance(size[0], Sequence):
        size = tuple(size[0])
    if not all(isinstance(s, int) and s >= 0 for s in size):
        raise ValueError(f"{fn}: `size` must be non-negative ints, got {size!r}")
    return tuple(size)


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


def _no_out(out: Any, fn: str) -> None:
    if out is not None:
        raise TypeError(f"{fn}: `out=` is not supported (JAX arrays are immutable); use the result")


def _float_dtype(dtype: Any, fn: str) -> Any:
    dtype = jnp.dtype(jnp.float32 if dtype is None else dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{fn}: `dtype` must be a floating dtype, got {dtype}")
    return dtype


def rand(
    *size: Any,
    generator: Any = None,
    out: Any = None,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> jax.Array:
    """Uniform samples on [0, 1) (torch.rand)."""
    _no_out(out, "rand")
    shape, dtype = _shape(size, "rand"), _float_dtype(dtype, "rand")
    return _place(jax.random.uniform(_random.key_from(generator, "rand"), shape, dtype), device)


def randn(
    *size: Any,
    generator: Any = None,
    out: Any = None,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> jax.Array:
    """Standard normal samples (torch.randn)."""
    _no_out(out, "randn")
    shape, dtype = _shape(size, "randn"), _float_dtype(dtype, "randn")
    return _place(jax.random.normal(_random.key_from(generator, "randn"), shape, dtype), device)


def _check_bounds(low: Any, high: Any, fn: str) -> None:
    if not (isinstance(low, (int, np.integer)) and isinstance(high, (int, np.integer))):
        raise TypeError(f"{fn}: `low` and `high` must be ints, got {low!r} and {high!r}")
    if high <= low:
        raise ValueError(f"{fn}: expected low < high, got low={low}, high={high}")


def randint(
    low: int,
    high: int | Sequence[int] | None = None,
    size: Sequence[int] | None = None,
    *,
    generator: Any = None,
    out: Any = None,
    dtype: Any = jnp.int32,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> jax.Array:
    """Integers uniform on [low, high) (torch.randint; `randint(high, size)` also works).

    Differs from torch: the default dtype is int32 (int64 needs `jax_enable_x64`).
    """
    _no_out(out, "randint")
    if size is None:  # randint(high, size)
        if high is None or not isinstance(high, Sequence):
            raise TypeError(
                "randint: `size` is required, e.g. randint(10, (3,)) or randint(0, 10, (3,))"
            )
        low, high, size = 0, low, high
    _check_bounds(low, high, "randint")
    key = _random.key_from(generator, "randint")
    shape = _shape((size,), "randint")
    return _place(jax.random.randint(key, shape, low, high, dtype), device)


def rand_like(
    input: Any, *, generator: Any = None, dtype: Any = None, device: Any = None, **_: Any
) -> jax.Array:
    """Uniform samples on [0, 1) with `input`'s shape and (floating) dtype (torch.rand_like)."""
    x = jnp.asarray(input)
    return rand(x.shape, generator=generator, dtype=dtype or x.dtype, device=device)


def randn_like(
    input: Any, *, generator: Any = None, dtype: Any = None, device: Any = None, **_: Any
) -> jax.Array:
    """Standard normal samples with `input`'s shape and (floating) dtype (torch.randn_like)."""
    x = jnp.asarray(input)
    return randn(x.shape, generator=generator, dtype=dtype or x.dtype, device=device)


def randint_like(
    input: Any,
    low: int = 0,
    high: int | None = None,
    *,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    **_: Any,
) -> jax.Array:
    """Integers uniform on [low, high) with `input`'s shape and dtype (torch.randint_like;
    `randint_like(x, high)` also works). Floating dtypes get integral values, as in torch."""
    if high is None:
        low, high = 0, low
    _check_bounds(low, high, "randint_like")
    x = jnp.asarray(input)
    dtype = jnp.dtype(dtype or x.dtype)
    key = _random.key_from(generator, "randint_like")
    if jnp.issubdtype(dtype, jnp.floating):
        ints = jax.random.randint(key, x.shape, low, high, jnp.int32)
        return _place(ints.astype(dtype), device)
    return _place(jax.random.randint(key, x.shape, low, high, dtype), device)


def _concrete(x: jax.Array) -> bool:
    return not isinstance(x, jax.core.Tracer)


def bernoulli(
    input: Any, p: float | None = None, *, generator: Any = None, out: Any = None
) -> jax.Array:
    """0/1 samples, 1 with probability `input` (or `p` for every entry), in `input`'s dtype
    (torch.bernoulli). Probabilities outside [0, 1] raise outside compiled code."""
    _no_out(out, "bernoulli")
    x = jnp.asarray(input)
    probs = x if p is None else jnp.full(x.shape, p, jnp.float32)
    if _concrete(probs) and probs.size and not bool(jnp.all((probs >= 0) & (probs <= 1))):
        raise ValueError("bernoulli: expected all probabilities in [0, 1] (`input` or `p`)")
    draws = jax.random.bernoulli(_random.key_from(generator, "bernoulli"), probs, x.shape)
    return draws.astype(x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32)


def multinomial(
    input: Any,
    num_samples: int,
    replacement: bool = False,
    *,
    generator: Any = None,
    out: Any = None,
) -> jax.Array:
    """Category indices drawn with probabilities proportional to the rows of `input` (1-D: one
    distribution, 2-D: one per row), shape (num_samples,) or (rows, num_samples)
    (torch.multinomial). Without replacement, indices in a row are distinct (Gumbel top-k).

    Differs from torch: indices are int32 (int64 needs `jax_enable_x64`).
    """
    _no_out(out, "multinomial")
    w = jnp.asarray(input)
    if w.ndim not in (1, 2) or not jnp.issubdtype(w.dtype, jnp.floating):
        raise ValueError(
            f"multinomial: `input` must be a 1-D or 2-D floating array of weights, got shape "
            f"{w.shape} and dtype {w.dtype}"
        )
    if not isinstance(num_samples, (int, np.integer)) or num_samples <= 0:
        raise ValueError(f"multinomial: `num_samples` must be a positive int, got {num_samples!r}")
    if not replacement and num_samples > w.shape[-1]:
        raise ValueError(
            f"multinomial: cannot sample num_samples={num_samples} > {w.shape[-1]} categories "
            "without replacement"
        )
    if _concrete(w):
        if bool(jnp.any(w < 0)) or not bool(jnp.all(jnp.isfinite(w))):
            raise ValueError("multinomial: `input` weights must be finite and non-negative")
        rows = w.reshape(-1, w.shape[-1])
        if bool(jnp.any(jnp.sum(rows, axis=-1) <= 0)):
            raise ValueError("multinomial: every row of `input` must have a positive sum")
        if not replacement and bool(jnp.any(jnp.sum(rows > 0, axis=-1) < num_samples)):
            raise ValueError(
                f"multinomial: a row has fewer than num_samples={num_samples} non-zero weights "
                "(sampling without replacement)"
            )
    key = _random.key_from(generator, "multinomial")
    logits = jnp.log(w)  # log(0) = -inf: never drawn
    if replacement:
        shape = (num_samples,) + w.shape[:-1]
        draws = jax.random.categorical(key, logits, axis=-1, shape=shape)
        return jnp.moveaxis(draws, 0, -1).astype(jnp.int32)
    gumbel = jax.random.gumbel(key, w.shape, logits.dtype)
    return jax.lax.top_k(logits + gumbel, num_samples)[1].astype(jnp.int32)


def randperm(
    n: int,
    *,
    generator: Any = None,
    out: Any = None,
    dtype: Any = jnp.int32,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> jax.Array:
    """A random permutation of 0 … n−1 (torch.randperm).

    Differs from torch: the default dtype is int32 (int64 needs `jax_enable_x64`).
    """
    _no_out(out, "randperm")
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"randperm: `n` must be a non-negative int, got {n!r}")
    perm = jax.random.permutation(_random.key_from(generator, "randperm"), int(n))
    return _place(perm.astype(dtype), device)


def normal(
    mean: Any = 0.0,
    std: Any = 1.0,
    size: Sequence[int] | None = None,
    *,
    generator: Any = None,
    out: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> jax.Array:
    """Normal samples with elementwise `mean` and `std` (arrays broadcast together), or of
    shape `size` when both are numbers (torch.normal). A negative `std` raises outside
    compiled code."""
    _no_out(out, "normal")
    mean_a, std_a = jnp.asarray(mean), jnp.asarray(std)
    if size is not None:
        if mean_a.ndim or std_a.ndim:
            raise ValueError(
                "normal: `size` is only allowed when `mean` and `std` are numbers, got shapes "
                f"{mean_a.shape} and {std_a.shape}"
            )
        shape = _shape((size,), "normal")
    else:
        shape = jnp.broadcast_shapes(mean_a.shape, std_a.shape)
    floats = [a.dtype for a in (mean_a, std_a) if jnp.issubdtype(a.dtype, jnp.floating)]
    if dtype is None:
        dtype = jnp.result_type(*floats) if floats else jnp.float32
    dtype = _float_dtype(dtype, "normal")
    if _concrete(std_a) and bool(jnp.any(std_a < 0)):
        raise ValueError("normal: `std` must be non-negative")
    z = jax.random.normal(_random.key_from(generator, "normal"), shape, dtype)
    return _place((mean_a + std_a * z).astype(dtype), device)


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
