"""torch's tensor functions with torch's signatures: `cat`, `flatten(x, 1)`, `sum(x, dim=1)`, ...

Each takes torch's positional order and keywords (`dim`, `keepdim`, `descending`, ...) and returns
a `jax.Array`, or a named tuple `(values, indices)` where torch returns one (`max`/`min` with a
`dim`, `sort`, `topk`, `mode`, `median`, `kthvalue`). They work on anything `jnp.asarray` accepts
and inside `jit`. `out=` is refused: JAX arrays are immutable, so write `y = jtorch.cat(...)`.
"""

from __future__ import annotations

import builtins
import functools
import math
from collections import namedtuple
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtorch._dtypes import Size, get_default_dtype, to_dtype

# torch.return_types: named tuples that unpack as `values, indices = jtorch.max(x, 1)`.
return_types = SimpleNamespace(
    **{
        name: namedtuple(name, ["values", "indices"])
        for name in ("max", "min", "sort", "topk", "mode", "median", "kthvalue", "cummax", "cummin")
    }
)

_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def _torch_function(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Register `fn` as `jtorch.<name>`, refusing torch's `out=` with a clear error."""
    name = fn.__name__.rstrip("_")

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "out" in kwargs:
            raise TypeError(
                f"jtorch.{name}: `out=` is not supported (JAX arrays are immutable); "
                f"write `y = jtorch.{name}(...)` instead"
            )
        return fn(*args, **kwargs)

    wrapper.__name__ = name
    _FUNCTIONS[name] = wrapper
    return wrapper


def _arr(x: Any) -> jax.Array:
    if isinstance(x, jax.Array):  # jnp.asarray would dispatch a copy op eagerly
        return x
    if isinstance(x, nnx.Variable):
        return x.get_value()
    return jnp.asarray(x)


def _dim(d: int, ndim: int, fn: str, arg: str = "dim") -> int:
    """A dim in [0, ndim) from torch's [-ndim, ndim) (a 0-d array accepts 0 and -1)."""
    n = builtins.max(ndim, 1)
    if not isinstance(d, (int, np.integer)) or not -n <= d < n:
        raise IndexError(
            f"{fn}: `{arg}`={d!r} is out of range for a {ndim}-d array "
            f"(expected an int in [{-n}, {n - 1}])"
        )
    return int(d) % n


def _dims(dim: Any, ndim: int, fn: str) -> tuple[int, ...] | None:
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        return tuple(_dim(d, ndim, fn) for d in dim)
    return (_dim(dim, ndim, fn),)


def _sizes(size: tuple, fn: str) -> tuple[int, ...]:
    """torch's `f(2, 3)`, `f((2, 3))`, `f([2, 3])` and `f(Size)`."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if not builtins.all(isinstance(s, (int, np.integer)) for s in size):
        raise TypeError(f"{fn}: `size` must be ints, got {size!r}")
    return tuple(int(s) for s in size)


def _dtype(dtype: Any) -> Any:
    return None if dtype is None else to_dtype(dtype)


def _reduce_dtype(x: jax.Array, dtype: Any) -> jax.Array:
    return x if dtype is None else x.astype(to_dtype(dtype))


# ---- joining, splitting, reshaping ---------------------------------------------------------------


@_torch_function
def cat(tensors: Sequence[Any], dim: int = 0) -> jax.Array:
    """Concatenate along an existing `dim` (torch.cat; also `concat`, `concatenate`)."""
    if not isinstance(tensors, (list, tuple)) or not tensors:
        raise TypeError(f"cat: `tensors` must be a non-empty list or tuple, got {tensors!r}")
    arrays = [_arr(t) for t in tensors]
    return jnp.concatenate(arrays, axis=_dim(dim, arrays[0].ndim, "cat"))


concat = concatenate = cat


@_torch_function
def stack(tensors: Sequence[Any], dim: int = 0) -> jax.Array:
    """Join along a new `dim` (torch.stack)."""
    arrays = [_arr(t) for t in tensors]
    if not arrays:
        raise TypeError("stack: `tensors` must be a non-empty list or tuple")
    return jnp.stack(arrays, axis=_dim(dim, arrays[0].ndim + 1, "stack"))


@_torch_function
def split(tensor: Any, split_size_or_sections: Any, dim: int = 0) -> tuple[jax.Array, ...]:
    """Pieces of `split_size` along `dim` (the last one smaller), or of the listed sizes."""
    x = _arr(tensor)
    d = _dim(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step <= 0:
            raise ValueError(f"split: `split_size`={step} must be positive")
        sizes = [builtins.min(step, n - i) for i in range(0, n, step)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise ValueError(
                f"split: `split_size_or_sections`={sizes} sums to {builtins.sum(sizes)}, "
                f"expected the size {n} of dim {dim}"
            )
    offsets = np.cumsum([0, *sizes])
    return tuple(
        jax.lax.slice_in_dim(x, int(a), int(b), axis=d)
        for a, b in zip(offsets[:-1], offsets[1:], strict=True)
    )


@_torch_function
def chunk(input: Any, chunks: int, dim: int = 0) -> tuple[jax.Array, ...]:
    """`chunks` pieces of ceil(n / chunks) along `dim` (fewer when n is small), as torch."""
    if chunks <= 0:
        raise ValueError(f"chunk: `chunks`={chunks} must be positive")
    x = _arr(input)
    n = x.shape[_dim(dim, x.ndim, "chunk")]
    return split(x, builtins.max(1, -(-n // chunks)), dim)


@_torch_function
def unbind(input: Any, dim: int = 0) -> tuple[jax.Array, ...]:
    """The slices along `dim`, with that dim removed."""
    x = _arr(input)
    d = _dim(dim, x.ndim, "unbind")
    return tuple(jnp.take(x, i, axis=d) for i in range(x.shape[d]))


@_torch_function
def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> jax.Array:
    """Merge dims start_dim..end_dim into one (a 0-d array becomes 1-d)."""
    x = _arr(input)
    if x.ndim == 0:
        return x.reshape(1)
    s, e = _dim(start_dim, x.ndim, "flatten", "start_dim"), _dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: `start_dim`={start_dim} comes after `end_dim`={end_dim}")
    return x.reshape(*x.shape[:s], math.prod(x.shape[s : e + 1]), *x.shape[e + 1 :])


@_torch_function
def reshape(input: Any, shape: Sequence[int]) -> jax.Array:
    return _arr(input).reshape(_sizes((shape,), "reshape"))


@_torch_function
def squeeze(input: Any, dim: Any = None) -> jax.Array:
    """Drop size-1 dims (only those in `dim` if given; a listed dim of another size is kept)."""
    x = _arr(input)
    dims = range(x.ndim) if dim is None else _dims(dim, x.ndim, "squeeze")
    return jnp.squeeze(x, tuple(d for d in dims if x.ndim and x.shape[d] == 1))


@_torch_function
def unsqueeze(input: Any, dim: int) -> jax.Array:
    x = _arr(input)
    return jnp.expand_dims(x, _dim(dim, x.ndim + 1, "unsqueeze"))


@_torch_function
def permute(input: Any, dims: Sequence[int]) -> jax.Array:
    x = _arr(input)
    order = tuple(_dim(d, x.ndim, "permute", "dims") for d in dims)
    if sorted(order) != list(range(x.ndim)):
        raise ValueError(f"permute: `dims`={tuple(dims)} is not a permutation of {x.ndim} dims")
    return jnp.transpose(x, order)


@_torch_function
def transpose(input: Any, dim0: int, dim1: int) -> jax.Array:
    """Swap two dims (torch.transpose; also `swapaxes`, `swapdims`)."""
    x = _arr(input)
    return jnp.swapaxes(x, _dim(dim0, x.ndim, "transpose"), _dim(dim1, x.ndim, "transpose"))


swapaxes = swapdims = transpose


@_torch_function
def t(input: Any) -> jax.Array:
    """Transpose a 2-d array; 0-d and 1-d arrays are returned as they are."""
    x = _arr(input)
    if x.ndim > 2:
        raise ValueError(f"t: expects an array with <= 2 dims, got shape {x.shape}")
    return x.T


@_torch_function
def narrow(input: Any, dim: int, start: Any, length: int) -> jax.Array:
    """input[..., start:start+length, ...] along `dim` (`start` may be a traced int)."""
    x = _arr(input)
    d = _dim(dim, x.ndim, "narrow")
    if isinstance(start, (int, np.integer)):
        start = int(start) % x.shape[d] if start < 0 else int(start)
        if start + length > x.shape[d]:
            raise ValueError(
                f"narrow: start ({start}) + length ({length}) exceeds dim {dim} "
                f"of size {x.shape[d]}"
            )
        return jax.lax.slice_in_dim(x, start, start + length, axis=d)
    return jax.lax.dynamic_slice_in_dim(x, start, length, axis=d)


@_torch_function
def flip(input: Any, dims: Sequence[int]) -> jax.Array:
    x = _arr(input)
    return jnp.flip(x, _dims(dims, x.ndim, "flip"))


@_torch_function
def roll(input: Any, shifts: Any, dims: Any = None) -> jax.Array:
    x = _arr(input)
    return jnp.roll(x, shifts, None if dims is None else _dims(dims, x.ndim, "roll"))


@_torch_function
def gather(input: Any, dim: int, index: Any) -> jax.Array:
    x = _arr(input)
    return jnp.take_along_axis(x, _arr(index), axis=_dim(dim, x.ndim, "gather"))


@_torch_function
def index_select(input: Any, dim: int, index: Any) -> jax.Array:
    x = _arr(input)
    return jnp.take(x, _arr(index), axis=_dim(dim, x.ndim, "index_select"))


@_torch_function
def tril(input: Any, diagonal: int = 0) -> jax.Array:
    return jnp.tril(_arr(input), diagonal)


@_torch_function
def triu(input: Any, diagonal: int = 0) -> jax.Array:
    return jnp.triu(_arr(input), diagonal)


@_torch_function
def clone(input: Any) -> jax.Array:
    """A copy (arrays are immutable, so this is the array itself)."""
    return _arr(input)


@_torch_function
def detach(input: Any) -> jax.Array:
    """The same values with no gradient flowing back (jax.lax.stop_gradient)."""
    return jax.lax.stop_gradient(_arr(input))


# ---- elementwise ---------------------------------------------------------------------------------


@_torch_function
def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """input where condition else other; `where(condition)` is `nonzero(as_tuple=True)`."""
    if input is None and other is None:
        return jnp.nonzero(_arr(condition))
    return jnp.where(_arr(condition), input, other)


@_torch_function
def masked_fill(input: Any, mask: Any, value: Any) -> jax.Array:
    """`value` where `mask` is True (mask broadcasts to input's shape), keeping input's dtype."""
    x = _arr(input)
    m = _arr(mask)
    if m.dtype != jnp.bool_:
        raise TypeError(f"masked_fill: `mask` must be a bool array, got dtype {m.dtype}")
    return jnp.where(m, jnp.asarray(value, x.dtype), x)


@_torch_function
def clamp(input: Any, min: Any = None, max: Any = None) -> jax.Array:  # noqa: A002
    """min(max(x, min), max) (torch.clamp; also `clip`)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of `min` and `max` must be given")
    return jnp.clip(_arr(input), min, max)


clip = clamp


def _unary(name: str, fn: Callable[[jax.Array], jax.Array], doc: str) -> Callable[..., Any]:
    def op(input: Any) -> jax.Array:
        return fn(_arr(input))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return _torch_function(op)


abs = _unary("abs", jnp.abs, "|x|")  # noqa: A001
exp = _unary("exp", jnp.exp, "e^x")
log = _unary("log", jnp.log, "ln x")
log2 = _unary("log2", jnp.log2, "log₂ x")
log10 = _unary("log10", jnp.log10, "log₁₀ x")
log1p = _unary("log1p", jnp.log1p, "ln(1 + x)")
expm1 = _unary("expm1", jnp.expm1, "e^x − 1")
sqrt = _unary("sqrt", jnp.sqrt, "√x")
rsqrt = _unary("rsqrt", jax.lax.rsqrt, "1/√x")
square = _unary("square", jnp.square, "x²")
sin = _unary("sin", jnp.sin, "sin x")
cos = _unary("cos", jnp.cos, "cos x")
tan = _unary("tan", jnp.tan, "tan x")
tanh = _unary("tanh", jnp.tanh, "tanh x")
sigmoid = _unary("sigmoid", jax.nn.sigmoid, "1 / (1 + e^−x)")
relu = _unary("relu", lambda x: jnp.where(x > 0, x, jnp.zeros((), x.dtype)), "max(x, 0)")
floor = _unary("floor", jnp.floor, "⌊x⌋")
ceil = _unary("ceil", jnp.ceil, "⌈x⌉")
round = _unary("round", jnp.round, "x rounded half to even")  # noqa: A001
trunc = _unary("trunc", jnp.trunc, "x rounded towards zero")
sign = _unary("sign", jnp.sign, "−1, 0 or 1")
neg = _unary("neg", jnp.negative, "−x")
negative = neg
reciprocal = _unary("reciprocal", jnp.reciprocal, "1/x")
logical_not = _unary("logical_not", jnp.logical_not, "not x")
isnan = _unary("isnan", jnp.isnan, "x is NaN")
isinf = _unary("isinf", jnp.isinf, "x is ±inf")
isfinite = _unary("isfinite", jnp.isfinite, "x is finite")


@_torch_function
def pow(input: Any, exponent: Any) -> jax.Array:  # noqa: A001
    return jnp.power(input, exponent)


@_torch_function
def add(input: Any, other: Any, *, alpha: Any = 1) -> jax.Array:
    """input + alpha·other."""
    return jnp.add(input, other if alpha == 1 else jnp.multiply(other, alpha))


@_torch_function
def sub(input: Any, other: Any, *, alpha: Any = 1) -> jax.Array:
    """input − alpha·other."""
    return jnp.subtract(input, other if alpha == 1 else jnp.multiply(other, alpha))


subtract = sub


@_torch_function
def mul(input: Any, other: Any) -> jax.Array:
    return jnp.multiply(input, other)


multiply = mul


@_torch_function
def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> jax.Array:
    """input / other; rounding_mode 'trunc' or 'floor' as in torch."""
    if rounding_mode is None:
        return jnp.true_divide(input, other)
    if rounding_mode == "floor":
        return jnp.floor_divide(input, other)
    if rounding_mode == "trunc":
        q = jnp.true_divide(input, other)
        return jnp.trunc(q).astype(jnp.result_type(input, other))
    raise ValueError(
        f"div: `rounding_mode` must be None, 'trunc' or 'floor', got {rounding_mode!r}"
    )


divide = true_divide = div


@_torch_function
def maximum(input: Any, other: Any) -> jax.Array:
    return jnp.maximum(input, other)


@_torch_function
def minimum(input: Any, other: Any) -> jax.Array:
    return jnp.minimum(input, other)


@_torch_function
def lerp(input: Any, end: Any, weight: Any) -> jax.Array:
    """input + weight·(end − input)."""
    return input + weight * (jnp.asarray(end) - input)


def _compare(name: str, fn: Callable[[Any, Any], jax.Array]) -> Callable[..., Any]:
    def op(input: Any, other: Any) -> jax.Array:
        return fn(_arr(input), other)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} as a bool array."
    return _torch_function(op)


eq = _compare("eq", jnp.equal)
ne = not_equal = _compare("ne", jnp.not_equal)
gt = greater = _compare("gt", jnp.greater)
lt = less = _compare("lt", jnp.less)
ge = greater_equal = _compare("ge", jnp.greater_equal)
le = less_equal = _compare("le", jnp.less_equal)
logical_and = _compare("logical_and", jnp.logical_and)
logical_or = _compare("logical_or", jnp.logical_or)


@_torch_function
def isclose(
    input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> jax.Array:
    """|input − other| <= atol + rtol·|other|, elementwise."""
    return jnp.isclose(_arr(input), _arr(other), rtol=rtol, atol=atol, equal_nan=equal_nan)


@_torch_function
def allclose(
    input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """Whether isclose holds everywhere, as a Python bool (a host sync: not for inside `jit`)."""
    return builtins.bool(isclose(input, other, rtol, atol, equal_nan).all())


@_torch_function
def equal(input: Any, other: Any) -> bool:
    """Whether both have the same shape and values, as a Python bool."""
    a, b = _arr(input), _arr(other)
    return a.shape == b.shape and builtins.bool((a == b).all())


# ---- activations and products --------------------------------------------------------------------


def _softmax_dim(fn: str, x: jax.Array, dim: Any) -> int:
    if dim is None:
        raise TypeError(f"{fn}: `dim` is required (e.g. jtorch.{fn}(x, dim=1))")
    return _dim(dim, x.ndim, fn)


@_torch_function
def softmax(input: Any, dim: int | None = None, dtype: Any = None) -> jax.Array:
    """exp(x_i) / Σ_j exp(x_j) along `dim`."""
    x = _reduce_dtype(_arr(input), dtype)
    return jax.nn.softmax(x, axis=_softmax_dim("softmax", x, dim))


@_torch_function
def log_softmax(input: Any, dim: int | None = None, dtype: Any = None) -> jax.Array:
    """x_i − log Σ_j exp(x_j) along `dim`."""
    x = _reduce_dtype(_arr(input), dtype)
    return jax.nn.log_softmax(x, axis=_softmax_dim("log_softmax", x, dim))


@_torch_function
def logsumexp(input: Any, dim: Any, keepdim: bool = False) -> jax.Array:
    x = _arr(input)
    return jax.nn.logsumexp(x, axis=_dims(dim, x.ndim, "logsumexp"), keepdims=keepdim)


@_torch_function
def matmul(input: Any, other: Any) -> jax.Array:
    return jnp.matmul(input, other)


@_torch_function
def mm(input: Any, mat2: Any) -> jax.Array:
    """2-d matrix product (torch.mm checks both are 2-d)."""
    a, b = _arr(input), _arr(mat2)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expects two 2-d arrays, got shapes {a.shape} and {b.shape}")
    return a @ b


@_torch_function
def bmm(input: Any, mat2: Any) -> jax.Array:
    """Batched matrix product of (b, n, m) and (b, m, p)."""
    a, b = _arr(input), _arr(mat2)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: expects (b, n, m) and (b, m, p) arrays, got {a.shape}, {b.shape}")
    return a @ b


@_torch_function
def einsum(equation: str, *operands: Any) -> jax.Array:
    """torch.einsum: operands as separate arguments or one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return jnp.einsum(equation, *operands)


@_torch_function
def outer(input: Any, vec2: Any) -> jax.Array:
    return jnp.outer(input, vec2)


@_torch_function
def dot(input: Any, other: Any) -> jax.Array:
    a, b = _arr(input), _arr(other)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: expects two 1-d arrays, got shapes {a.shape} and {b.shape}")
    return jnp.dot(a, b)


# ---- reductions ----------------------------------------------------------------------------------


@_torch_function
def sum(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> jax.Array:  # noqa: A001
    x = _arr(input)
    return jnp.sum(x, axis=_dims(dim, x.ndim, "sum"), keepdims=keepdim, dtype=_dtype(dtype))


@_torch_function
def mean(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> jax.Array:
    x = _arr(input)
    return jnp.mean(x, axis=_dims(dim, x.ndim, "mean"), keepdims=keepdim, dtype=_dtype(dtype))


@_torch_function
def prod(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> jax.Array:
    x = _arr(input)
    return jnp.prod(x, axis=_dims(dim, x.ndim, "prod"), keepdims=keepdim, dtype=_dtype(dtype))


def _correction(fn: str, dim: Any, unbiased: Any, correction: Any) -> tuple[Any, Any]:
    """torch's `std(x, unbiased)`, `std(x, dim, unbiased, keepdim)` and `correction=` forms."""
    if isinstance(dim, builtins.bool):  # std(x, False)
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{fn}: give `unbiased` or `correction`, not both")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, correction


@_torch_function
def var(
    input: Any,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> jax.Array:
    """Variance with Bessel's correction by default (divides by n − correction, as torch)."""
    x = _arr(input)
    dim, c = _correction("var", dim, unbiased, correction)
    return jnp.var(x, axis=_dims(dim, x.ndim, "var"), ddof=c, keepdims=keepdim)


@_torch_function
def std(
    input: Any,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> jax.Array:
    """Standard deviation with Bessel's correction by default (torch.std)."""
    x = _arr(input)
    dim, c = _correction("std", dim, unbiased, correction)
    return jnp.std(x, axis=_dims(dim, x.ndim, "std"), ddof=c, keepdims=keepdim)


def _extreme(name: str, reduce: Callable, arg: Callable, elementwise: Callable) -> Callable:
    def op(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
        x = _arr(input)
        if dim is None:
            return reduce(x)
        if isinstance(dim, (jax.Array, np.ndarray, nnx.Variable)):  # max(x, other)
            return elementwise(x, _arr(dim))
        d = _dim(dim, x.ndim, name)
        values = reduce(x, axis=d, keepdims=keepdim)
        return getattr(return_types, name)(values, arg(x, axis=d, keepdims=keepdim))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (
        f"torch.{name}: the {name} of all elements; with `dim`, a named tuple (values, indices); "
        f"with an array as second argument, the elementwise {name}imum."
    )
    return _torch_function(op)


max = _extreme("max", jnp.max, jnp.argmax, jnp.maximum)  # noqa: A001
min = _extreme("min", jnp.min, jnp.argmin, jnp.minimum)  # noqa: A001


@_torch_function
def amax(input: Any, dim: Any = (), keepdim: bool = False) -> jax.Array:
    x = _arr(input)
    return jnp.max(x, axis=_dims(dim, x.ndim, "amax") or None, keepdims=keepdim)


@_torch_function
def amin(input: Any, dim: Any = (), keepdim: bool = False) -> jax.Array:
    x = _arr(input)
    return jnp.min(x, axis=_dims(dim, x.ndim, "amin") or None, keepdims=keepdim)


@_torch_function
def argmax(input: Any, dim: int | None = None, keepdim: bool = False) -> jax.Array:
    x = _arr(input)
    d = None if dim is None else _dim(dim, x.ndim, "argmax")
    return jnp.argmax(x, axis=d, keepdims=keepdim if d is not None else False)


@_torch_function
def argmin(input: Any, dim: int | None = None, keepdim: bool = False) -> jax.Array:
    x = _arr(input)
    d = None if dim is None else _dim(dim, x.ndim, "argmin")
    return jnp.argmin(x, axis=d, keepdims=keepdim if d is not None else False)


@_torch_function
def all(input: Any, dim: Any = None, keepdim: bool = False) -> jax.Array:  # noqa: A001
    x = _arr(input)
    return jnp.all(x, axis=_dims(dim, x.ndim, "all"), keepdims=keepdim)


@_torch_function
def any(input: Any, dim: Any = None, keepdim: bool = False) -> jax.Array:  # noqa: A001
    x = _arr(input)
    return jnp.any(x, axis=_dims(dim, x.ndim, "any"), keepdims=keepdim)


@_torch_function
def cumsum(input: Any, dim: int, *, dtype: Any = None) -> jax.Array:
    x = _arr(input)
    return jnp.cumsum(x, axis=_dim(dim, x.ndim, "cumsum"), dtype=_dtype(dtype))


@_torch_function
def cumprod(input: Any, dim: int, *, dtype: Any = None) -> jax.Array:
    x = _arr(input)
    return jnp.cumprod(x, axis=_dim(dim, x.ndim, "cumprod"), dtype=_dtype(dtype))


@_torch_function
def sort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """(values, indices) sorted along `dim`; ties keep their order (a stable sort always)."""
    x = _arr(input)
    d = _dim(dim, x.ndim, "sort")
    idx = jnp.argsort(x, axis=d, stable=True, descending=descending)
    return return_types.sort(jnp.take_along_axis(x, idx, axis=d), idx)


@_torch_function
def argsort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    return sort(input, dim, descending, stable).indices


@_torch_function
def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
    """(values, indices) of the k largest (or smallest) along `dim`, largest first."""
    x = _arr(input)
    d = _dim(dim, x.ndim, "topk")
    if not 0 <= k <= (x.shape[d] if x.ndim else 1):
        raise ValueError(f"topk: `k`={k} is out of range for dim {dim} of size {x.shape[d]}")
    moved = jnp.moveaxis(x, d, -1)
    values, idx = jax.lax.top_k(moved if largest else -moved, k)
    values = values if largest else -values
    return return_types.topk(jnp.moveaxis(values, -1, d), jnp.moveaxis(idx, -1, d))


@_torch_function
def kthvalue(input: Any, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """(values, indices) of the k-th smallest element along `dim` (k counts from 1)."""
    x = _arr(input)
    d = _dim(dim, x.ndim, "kthvalue")
    if not 1 <= k <= x.shape[d]:
        raise ValueError(f"kthvalue: `k`={k} is out of range for dim {dim} of size {x.shape[d]}")
    s = sort(x, d)
    values = jnp.take(s.values, k - 1, axis=d)
    indices = jnp.take(s.indices, k - 1, axis=d)
    if keepdim:
        values, indices = jnp.expand_dims(values, d), jnp.expand_dims(indices, d)
    return return_types.kthvalue(values, indices)


@_torch_function
def median(input: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median (not the mean of the two middle values, as torch); with `dim`, a named
    tuple (values, indices)."""
    x = _arr(input)
    if dim is None:
        flat = jnp.sort(x.reshape(-1))
        return flat[(flat.shape[0] - 1) // 2]
    d = _dim(dim, x.ndim, "median")
    r = kthvalue(x, (x.shape[d] + 1) // 2, d, keepdim)
    return return_types.median(r.values, r.indices)


@_torch_function
def mode(input: Any, dim: int = -1, keepdim: bool = False) -> Any:
    """(values, indices): the most frequent value along `dim` (the smallest among ties) and the
    index of its last occurrence."""
    x = _arr(input)
    d = _dim(dim, x.ndim, "mode")
    m = jnp.moveaxis(x, d, -1)  # (..., n)
    n = m.shape[-1]
    counts = jnp.sum(m[..., :, None] == m[..., None, :], axis=-1)  # (..., n)
    best = jnp.max(counts, axis=-1, keepdims=True)
    candidates = jnp.where(counts == best, m, jnp.max(m, axis=-1, keepdims=True))
    values = jnp.min(candidates, axis=-1)
    positions = jnp.where(m == values[..., None], jnp.arange(n), -1)
    indices = jnp.max(positions, axis=-1)
    if keepdim:
        values, indices = jnp.expand_dims(values, d), jnp.expand_dims(indices, d)
    return return_types.mode(values, indices)


@_torch_function
def norm(
    input: Any, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None
) -> jax.Array:
    """The p-norm over `dim` (all elements when None): 'fro'/2, any p > 0, inf, -inf, 0."""
    x = _reduce_dtype(_arr(input), dtype)
    axes = _dims(dim, x.ndim, "norm")
    a = jnp.abs(x)
    if p in ("fro", 2, 2.0):
        return jnp.sqrt(jnp.sum(a * a, axis=axes, keepdims=keepdim))
    if p == math.inf:
        return jnp.max(a, axis=axes, keepdims=keepdim)
    if p == -math.inf:
        return jnp.min(a, axis=axes, keepdims=keepdim)
    if p == 0:
        return jnp.sum(a != 0, axis=axes, keepdims=keepdim).astype(x.dtype)
    if isinstance(p, str):
        raise ValueError(f"norm: `p`={p!r} is not supported (expected 'fro' or a number)")
    return jnp.sum(a**p, axis=axes, keepdims=keepdim) ** (1.0 / p)


@_torch_function
def dist(input: Any, other: Any, p: float = 2) -> jax.Array:
    """norm(input − other, p) over all elements."""
    return norm(_arr(input) - _arr(other), p)


# ---- creation and predicates ---------------------------------------------------------------------


def _float_dtype(dtype: Any) -> Any:
    return get_default_dtype() if dtype is None else to_dtype(dtype)


@_torch_function
def zeros_like(input: Any, *, dtype: Any = None, device: Any = None) -> jax.Array:
    return jnp.zeros_like(_arr(input), dtype=_dtype(dtype))


@_torch_function
def ones_like(input: Any, *, dtype: Any = None, device: Any = None) -> jax.Array:
    return jnp.ones_like(_arr(input), dtype=_dtype(dtype))


@_torch_function
def full_like(input: Any, fill_value: Any, *, dtype: Any = None, device: Any = None) -> jax.Array:
    return jnp.full_like(_arr(input), fill_value, dtype=_dtype(dtype))


@_torch_function
def empty_like(input: Any, *, dtype: Any = None, device: Any = None) -> jax.Array:
    """Differs from torch: filled with zeros (JAX has no uninitialised arrays)."""
    return zeros_like(input, dtype=dtype)


@_torch_function
def empty(*args: Any, size: Any = None, dtype: Any = None, device: Any = None) -> jax.Array:
    """`empty(2, 3)`, `empty((2, 3))` or `empty(size=(2, 3))`.

    Differs from torch: filled with zeros (JAX has no uninitialised arrays).
    """
    return jnp.zeros(_sizes(args if size is None else (size,), "empty"), _float_dtype(dtype))


@_torch_function
def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None) -> jax.Array:
    return jnp.eye(n, m, dtype=_float_dtype(dtype))


@_torch_function
def linspace(
    start: Any, end: Any, steps: int, *, dtype: Any = None, device: Any = None
) -> jax.Array:
    return jnp.linspace(start, end, steps, dtype=_float_dtype(dtype))


@_torch_function
def logspace(
    start: Any, end: Any, steps: int, base: float = 10.0, *, dtype: Any = None, device: Any = None
) -> jax.Array:
    return jnp.logspace(start, end, steps, base=base, dtype=_float_dtype(dtype))


@_torch_function
def from_numpy(ndarray: np.ndarray) -> jax.Array:
    """A JAX array with the numpy array's values (a copy: JAX does not share numpy's memory)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(ndarray).__name__}")
    return jnp.asarray(ndarray, dtype=jax.dtypes.canonicalize_dtype(ndarray.dtype))


@_torch_function
def numel(input: Any) -> int:
    return int(np.prod(jnp.shape(input), dtype=np.int64))


@_torch_function
def is_tensor(obj: Any) -> bool:
    """Whether `obj` is a JAX array or a Parameter/Buffer."""
    return isinstance(obj, (jax.Array, nnx.Variable))


@_torch_function
def is_floating_point(input: Any) -> bool:
    return builtins.bool(jnp.issubdtype(_arr(input).dtype, jnp.floating))


@_torch_function
def broadcast_to(input: Any, size: Sequence[int]) -> jax.Array:
    return jnp.broadcast_to(_arr(input), tuple(size))


@_torch_function
def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[jax.Array, ...]:
    """torch.meshgrid (indexing 'ij' by default, as torch's documented default)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    return tuple(jnp.meshgrid(*tensors, indexing=indexing))


class _TensorType(type):
    """isinstance(x, jtorch.Tensor) for JAX arrays and Parameters; FloatTensor etc. also check
    the dtype."""

    def __instancecheck__(cls, obj: Any) -> bool:
        if not isinstance(obj, (jax.Array, nnx.Variable)):
            return False
        return cls._dtype is None or _arr(obj).dtype == to_dtype(cls._dtype)


class Tensor(metaclass=_TensorType):
    """torch.Tensor for `isinstance` checks and the legacy constructors: `Tensor(data)` or
    `FloatTensor(2, 3)` (zeros: JAX has no uninitialised arrays)."""

    _dtype: Any = None

    def __new__(cls, *args: Any) -> jax.Array:  # type: ignore[misc]
        dtype = to_dtype(cls._dtype or get_default_dtype())
        if len(args) == 1 and not isinstance(args[0], (int, np.integer, Size)):
            return _arr(args[0]).astype(dtype)
        return jnp.zeros(_sizes(args, cls.__name__), dtype)


class FloatTensor(Tensor):
    _dtype = "float32"


class DoubleTensor(Tensor):
    _dtype = "float64"


class LongTensor(Tensor):
    _dtype = "int64"


class IntTensor(Tensor):
    _dtype = "int32"


class BoolTensor(Tensor):
    _dtype = "bool"


class ByteTensor(Tensor):
    _dtype = "uint8"


__all__ = [
    "return_types",
    "Tensor",
    "FloatTensor",
    "DoubleTensor",
    "LongTensor",
    "IntTensor",
    "BoolTensor",
    "ByteTensor",
] + sorted(
    name
    for name, value in list(globals().items())
    if not name.startswith("_")
    and getattr(value, "__module__", None) == __name__
    and callable(value)
    and not isinstance(value, type)
)
