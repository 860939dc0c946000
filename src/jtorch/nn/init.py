"""Weight initialisation with torch.nn.init's formulas and defaults.

Each initialiser comes in two forms:
- pure: `kaiming_uniform(key, shape, a=0, ...) -> jax.Array`, usable in any JAX program;
- in place, torch's spelling with a trailing underscore: `kaiming_uniform_(module.weight, ...)`
  replaces the value of a `Parameter`/`Buffer` and returns it. Keys come from the global RNG
  (`jtorch.manual_seed`) unless `generator=` gives a key or an `nnx.Rngs`.

Differs from torch: jax arrays are immutable, so the in-place forms need a Parameter or Buffer
(`conv.weight` or `conv.weight.data`), not a bare array.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtorch import _random

__all__ = [
    "calculate_gain",
    "uniform",
    "normal",
    "trunc_normal",
    "constant",
    "ones",
    "zeros",
    "eye",
    "dirac",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "orthogonal",
    "sparse",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "sparse_",
]

_LINEAR_FNS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (torch.nn.init.calculate_gain)."""
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _fans(shape: Sequence[int]) -> tuple[int, int]:
    if len(shape) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
            f"(got shape {tuple(shape)})"
        )
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(shape: Sequence[int], mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _fans(shape)
    return fan_in if mode == "fan_in" else fan_out


# ---------------------------------------------------------------- pure forms


def _host_rng(key: Any) -> np.random.Generator | None:
    """A numpy generator seeded by a concrete `key`, or None when `key` is traced.

    Eager initialisation draws on the host: jax.random would compile a sampler for every
    distinct parameter shape, which dominates model construction time. Inside a trace the
    jax.random path is used, so the pure forms stay usable in compiled code.
    """
    if isinstance(key, jax.core.Tracer):
        return None
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.random.default_rng(np.asarray(key, np.uint32).ravel().tolist())


def uniform(
    key: jax.Array, shape: Sequence[int], a: float = 0.0, b: float = 1.0, dtype: Any = jnp.float32
) -> jax.Array:
    """Samples from U(a, b)."""
    rng = _host_rng(key)
    if rng is None:
        return jax.random.uniform(key, tuple(shape), dtype, a, b)
    return jnp.asarray(rng.uniform(a, b, tuple(shape)), dtype)


def normal(
    key: jax.Array,
    shape: Sequence[int],
    mean: float = 0.0,
    std: float = 1.0,
    dtype: Any = jnp.float32,
) -> jax.Array:
    """Samples from N(mean, std²)."""
    rng = _host_rng(key)
    if rng is None:
        return mean + std * jax.random.normal(key, tuple(shape), dtype)
    return jnp.asarray(rng.normal(mean, std, tuple(shape)), dtype)


def trunc_normal(
    key: jax.Array,
    shape: Sequence[int],
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    dtype: Any = jnp.float32,
) -> jax.Array:
    """N(mean, std²) truncated to [a, b] (absolute bounds, as torch)."""
    lower, upper = (a - mean) / std, (b - mean) / std
    return mean + std * jax.random.truncated_normal(key, lower, upper, tuple(shape), dtype)


def constant(
    key: jax.Array | None, shape: Sequence[int], val: float, dtype: Any = jnp.float32
) -> jax.Array:
    """Every element equal to `val` (`key` is ignored; kept for a uniform signature)."""
    return jnp.full(tuple(shape), val, dtype)


def ones(key: jax.Array | None, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    return jnp.ones(tuple(shape), dtype)


def zeros(key: jax.Array | None, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    return jnp.zeros(tuple(shape), dtype)


def eye(key: jax.Array | None, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """The identity matrix (2-D shapes only)."""
    if len(shape) != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported, got shape {tuple(shape)}")
    return jnp.eye(shape[0], shape[1], dtype=dtype)


def dirac(
    key: jax.Array | None, shape: Sequence[int], groups: int = 1, dtype: Any = jnp.float32
) -> jax.Array:
    """The Dirac delta for 3/4/5-D conv weights: a convolution that preserves its input."""
    if len(shape) not in (3, 4, 5):
        raise ValueError(
            f"Only tensors with 3, 4, or 5 dimensions are supported, got shape {tuple(shape)}"
        )
    if shape[0] % groups != 0:
        raise ValueError(f"dim 0 ({shape[0]}) must be divisible by groups ({groups})")
    out_per_group = shape[0] // groups
    min_dim = min(out_per_group, shape[1])
    weight = np.zeros(tuple(shape), dtype=np.float32)
    centre = tuple(s // 2 for s in shape[2:])
    for g in range(groups):
        for d in range(min_dim):
            weight[(g * out_per_group + d, d, *centre)] = 1
    return jnp.asarray(weight, dtype)


def xavier_uniform(
    key: jax.Array, shape: Sequence[int], gain: float = 1.0, dtype: Any = jnp.float32
) -> jax.Array:
    """U(-a, a) with a = gain·√(6 / (fan_in + fan_out)) (Glorot & Bengio)."""
    fan_in, fan_out = _fans(shape)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform(key, shape, -bound, bound, dtype)


def xavier_normal(
    key: jax.Array, shape: Sequence[int], gain: float = 1.0, dtype: Any = jnp.float32
) -> jax.Array:
    """N(0, std²) with std = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    return normal(key, shape, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), dtype)


def _kaiming_std(shape: Sequence[int], a: float, mode: str, nonlinearity: str) -> float:
    if 0 in tuple(shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return 0.0
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(shape, mode))


def kaiming_uniform(
    key: jax.Array,
    shape: Sequence[int],
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    dtype: Any = jnp.float32,
) -> jax.Array:
    """U(-b, b) with b = gain·√(3 / fan) (He et al.)."""
    bound = math.sqrt(3.0) * _kaiming_std(shape, a, mode, nonlinearity)
    return uniform(key, shape, -bound, bound, dtype)


def kaiming_normal(
    key: jax.Array,
    shape: Sequence[int],
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    dtype: Any = jnp.float32,
) -> jax.Array:
    """N(0, std²) with std = gain / √fan (He et al.)."""
    return normal(key, shape, 0.0, _kaiming_std(shape, a, mode, nonlinearity), dtype)


def orthogonal(
    key: jax.Array, shape: Sequence[int], gain: float = 1.0, dtype: Any = jnp.float32
) -> jax.Array:
    """A (semi-)orthogonal matrix from the QR of a Gaussian, sign-corrected as torch does."""
    if len(shape) < 2:
        raise ValueError(
            f"Only tensors with 2 or more dimensions are supported, got shape {tuple(shape)}"
        )
    rows = shape[0]
    cols = int(np.prod(shape)) // rows if rows else 0
    if rows == 0 or cols == 0:
        return jnp.zeros(tuple(shape), dtype)
    flat = jax.random.normal(key, (rows, cols), jnp.float32)
    if rows < cols:
        flat = flat.T
    q, r = jnp.linalg.qr(flat)
    q = q * jnp.sign(jnp.diagonal(r))
    if rows < cols:
        q = q.T
    return (gain * q).reshape(tuple(shape)).astype(dtype)


def sparse(
    key: jax.Array,
    shape: Sequence[int],
    sparsity: float,
    std: float = 0.01,
    dtype: Any = jnp.float32,
) -> jax.Array:
    """N(0, std²) with ⌈sparsity·rows⌉ entries of every column set to zero (Martens 2010)."""
    if len(shape) != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported, got shape {tuple(shape)}")
    rows, cols = shape
    num_zeros = int(math.ceil(sparsity * rows))
    k_values, k_perm = jax.random.split(key)
    values = normal(k_values, shape, 0.0, std, dtype)
    perm_keys = jax.random.split(k_perm, cols)
    # rank of each row in an independent random permutation per column
    ranks = jax.vmap(lambda k: jnp.argsort(jax.random.permutation(k, rows)))(perm_keys).T
    return jnp.where(ranks < num_zeros, jnp.zeros((), dtype), values)


# ---------------------------------------------------------------- in-place forms


def _key(generator: Any) -> jax.Array:
    if generator is None:
        return _random.next_key()
    if isinstance(generator, nnx.Rngs):
        return generator.default()
    return generator


def _in_place(fn_name: str, pure: Callable[..., jax.Array], random: bool) -> Callable[..., Any]:
    def init_(tensor: Any, *args: Any, generator: Any = None, **kwargs: Any) -> Any:
        if not isinstance(tensor, nnx.Variable):
            raise TypeError(
                f"init.{fn_name}_: `tensor` must be a Parameter or Buffer (jax arrays are "
                f"immutable), got {type(tensor).__name__}; use init.{fn_name}(key, shape, ...) "
                "for a new array"
            )
        key = _key(generator) if random else None
        tensor.value = pure(key, tensor.value.shape, *args, dtype=tensor.value.dtype, **kwargs)
        return tensor

    init_.__name__ = f"{fn_name}_"
    init_.__qualname__ = f"{fn_name}_"
    init_.__doc__ = (
        f"In-place form of `{fn_name}`: replaces the value of a Parameter/Buffer and returns it "
        f"(torch.nn.init.{fn_name}_).\n\n{pure.__doc__ or ''}"
    )
    return init_


uniform_ = _in_place("uniform", uniform, True)
normal_ = _in_place("normal", normal, True)
trunc_normal_ = _in_place("trunc_normal", trunc_normal, True)
constant_ = _in_place("constant", constant, False)
ones_ = _in_place("ones", ones, False)
zeros_ = _in_place("zeros", zeros, False)
eye_ = _in_place("eye", eye, False)
dirac_ = _in_place("dirac", dirac, False)
xavier_uniform_ = _in_place("xavier_uniform", xavier_uniform, True)
xavier_normal_ = _in_place("xavier_normal", xavier_normal, True)
kaiming_uniform_ = _in_place("kaiming_uniform", kaiming_uniform, True)
kaiming_normal_ = _in_place("kaiming_normal", kaiming_normal, True)
orthogonal_ = _in_place("orthogonal", orthogonal, True)
sparse_ = _in_place("sparse", sparse, True)
