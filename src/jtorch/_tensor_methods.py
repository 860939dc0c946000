"""torch's tensor methods on JAX's own arrays: `x.view(-1, 4)`, `x.size(0)`, `x.max(dim=1)`, ...

`import jtorch` runs `install()`, which adds methods to JAX's concrete array class and to its
tracer class (what a value is inside `jit`/`grad`), under two rules that keep every program that
does not use jtorch computing exactly what it computed before:

1. New names only where JAX has none (`t`, `permute`, `unsqueeze`, `float`, `to`, `detach`, ...).
2. For a name JAX already has, only call forms JAX rejects take torch's meaning: `x.view(2, 3)`
   (JAX's `view` takes a dtype), `x.sum(dim=1)`, `x.max(1, keepdim=True)` (JAX spells it
   `keepdims`), `x.transpose(1, 2)` on a 3-d array, `x.flatten(1)`. A form both accept keeps JAX's
   meaning: `x.max(1)` returns values only, `x.std()` divides by n, `x.repeat(3, 1)` repeats
   elements, `x.transpose(0, 1)` on a 2-d array is the identity; the torch spellings are
   `jtorch.max(x, 1)`, `x.std(dim=None)`/`jtorch.std(x)`, `x.tile(3, 1)`, `x.t()`.

`x.size` stays JAX's element count, as an `int` subclass that is also callable: `x.size()` is a
`jtorch.Size` and `x.size(0)` an int. Missing attributes (`.backward()`, `.grad`, in-place `add_`)
raise `AttributeError` saying what to write instead; `hasattr` answers as before.

JAX's concrete array class comes from `jtorch._backend.internals.jax_array_classes` (checked
against jax/jaxlib 0.10.2). `tests/test_tensor_methods.py`
fails loudly if the patching stops reaching either class.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtorch import _tensor_functions as tf
from jtorch._backend import internals
from jtorch._dtypes import Size, dtype_of, to_dtype

__all__ = ["install", "ARRAY_CLASSES", "NEW_METHODS", "TORCH_FORM_METHODS"]

ARRAY_CLASSES: tuple[type, ...] = internals.jax_array_classes()
_MARK = "_jtorch_torch_form"


class _SizeInt(int):
    """`x.size`: JAX's element count (an int), also callable as torch's `x.size(dim=None)`."""

    def __new__(cls, shape: tuple[int, ...]) -> _SizeInt:
        self = super().__new__(cls, math.prod(shape))
        self._shape = shape
        return self

    def __reduce__(self) -> tuple:
        return int, (int(self),)  # copies and pickles are plain ints

    def __call__(self, dim: int | None = None) -> Any:
        if dim is None:
            return Size(self._shape)
        try:
            return self._shape[dim]
        except (IndexError, TypeError):
            return self._shape[tf._dim(dim, len(self._shape), "size")]


def _size(self: Any) -> Any:
    shape = self.shape
    if not builtins.all(isinstance(s, int) for s in shape):  # symbolic dims: JAX's own value
        return math.prod(shape)
    return _SizeInt(shape)


# ---- new names ----------------------------------------------------------------------------------


def _cast(name: str) -> Callable[[Any], jax.Array]:
    def method(self: Any, memory_format: Any = None) -> jax.Array:
        return self.astype(dtype_of(name))

    method.__name__ = name
    method.__doc__ = f"`x.{name}()`: cast to jtorch.{name}."
    return method


def _to(self: Any, *args: Any, **kwargs: Any) -> jax.Array:
    """`x.to(device)`, `x.to(dtype)`, `x.to(other)`, `x.to(device, dtype)`; `non_blocking` and
    `copy` are accepted."""
    kwargs.pop("non_blocking", None)
    kwargs.pop("copy", None)
    dtype, device = kwargs.pop("dtype", None), kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"x.to(): unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, (jax.Array, jax.core.Tracer)):
            dtype = a.dtype
        elif isinstance(a, (str, jax.Device)) or type(a).__name__ == "device":
            device = a
        else:
            dtype = a
    out = self if dtype is None else self.astype(to_dtype(dtype))
    if device is not None and not isinstance(self, jax.core.Tracer):
        from jtorch._device import to as _to_device

        out = _to_device(out, device)
    return out


def _cpu(self: Any, *args: Any, **kwargs: Any) -> jax.Array:
    """`x.cpu()`: the array on JAX's CPU device (inside `jit`, the value unchanged)."""
    return _to(self, "cpu")


def _cuda(self: Any, device: Any = None, non_blocking: bool = False) -> jax.Array:
    """`x.cuda()`: the array on JAX's GPU (an error naming the devices when there is none)."""
    index = device if isinstance(device, int) else None
    return _to(self, f"cuda:{index}" if index is not None else (device or "cuda"))


def _numpy(self: Any, force: bool = False) -> np.ndarray:
    return np.asarray(self)


def _permute(self: Any, *dims: Any) -> jax.Array:
    return tf.permute(self, _flat(dims))


def _flat(args: tuple) -> tuple:
    """`f(2, 3)` or `f((2, 3))`."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return args


def _expand(self: Any, *sizes: Any) -> jax.Array:
    """Broadcast to `sizes`; -1 keeps a dim's size (torch.Tensor.expand)."""
    sizes = _flat(sizes)
    lead = len(sizes) - self.ndim
    if lead < 0:
        raise ValueError(f"expand: {len(sizes)} sizes given for a {self.ndim}-d array")
    shape = tuple(self.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return jnp.broadcast_to(self, shape)


def _new(fill: Callable) -> Callable[..., jax.Array]:
    def method(self: Any, *size: Any, dtype: Any = None, device: Any = None, **_: Any) -> Any:
        return fill(tf._sizes(size, "new_*"), self.dtype if dtype is None else to_dtype(dtype))

    return method


def _new_full(self: Any, size: Any, fill_value: Any, *, dtype: Any = None, **_: Any) -> jax.Array:
    return jnp.full(tuple(size), fill_value, self.dtype if dtype is None else to_dtype(dtype))


def _new_tensor(self: Any, data: Any, *, dtype: Any = None, **_: Any) -> jax.Array:
    return jnp.asarray(data, self.dtype if dtype is None else to_dtype(dtype))


def _tile(self: Any, *dims: Any) -> jax.Array:
    """torch's `x.repeat(*sizes)` / `x.tile(dims)`: the whole array repeated along each dim."""
    return jnp.tile(self, _flat(dims))


def _reshape_like(self: Any, other: Any) -> jax.Array:
    return jnp.reshape(self, jnp.shape(other))


def _method(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"`x.{name}(...)`: `jtorch.{name}(x, ...)`."
    return method


_FROM_FUNCTIONS = """t unsqueeze narrow masked_fill clamp clamp_min clamp_max exp log log2 log10
log1p expm1 sqrt rsqrt abs square sin cos tan tanh sigmoid relu floor ceil trunc sign neg negative
reciprocal logical_not logical_and logical_or isnan isinf isfinite pow add sub subtract mul
multiply div divide true_divide maximum minimum lerp eq ne gt lt ge le isclose allclose equal
softmax log_softmax logsumexp matmul mm bmm outer split chunk unbind flip roll gather
index_select tril triu norm dist topk kthvalue median mode amax amin detach clone
is_floating_point""".split()

NEW_METHODS: dict[str, Any] = {
    **{name: _method(getattr(tf, name), name) for name in _FROM_FUNCTIONS if hasattr(tf, name)},
    **{name: _cast(name) for name in ("float", "double", "half", "bfloat16", "long", "int")},
    **{name: _cast(name) for name in ("short", "bool", "byte", "cfloat", "cdouble")},
    "to": _to,
    "cpu": _cpu,
    "cuda": _cuda,
    "numpy": _numpy,
    "contiguous": lambda self, memory_format=None: self,
    "permute": _permute,
    "expand": _expand,
    "expand_as": lambda self, other: jnp.broadcast_to(self, jnp.shape(other)),
    "view_as": _reshape_like,
    "reshape_as": _reshape_like,
    "type_as": lambda self, other: self.astype(other.dtype),
    "new_zeros": _new(jnp.zeros),
    "new_ones": _new(jnp.ones),
    "new_empty": _new(jnp.zeros),
    "new_full": _new_full,
    "new_tensor": _new_tensor,
    "tile": _tile,
    "dim": lambda self: self.ndim,
    "ndimension": lambda self: self.ndim,
    "numel": lambda self: int(np.prod(self.shape, dtype=np.int64)),
    "nelement": lambda self: int(np.prod(self.shape, dtype=np.int64)),
    "is_cuda": property(lambda self: _is_cuda(self)),
    "data": property(lambda self: self),
}
NEW_METHODS["float"].__doc__ = "`x.float()`: cast to float32."


def _is_cuda(self: Any) -> bool:
    if isinstance(self, jax.core.Tracer):
        return False
    return builtins.any(d.platform == "gpu" for d in self.devices())


# ---- names JAX has: torch's meaning only for call forms JAX rejects ------------------------------

_TORCH_KEYWORDS = frozenset({"dim", "keepdim", "unbiased", "start_dim", "end_dim"})


def _torch_kw(kwargs: dict) -> bool:
    return builtins.any(k in _TORCH_KEYWORDS for k in kwargs)


def _is_array(a: Any) -> bool:
    return isinstance(a, (jax.Array, jax.core.Tracer, np.ndarray))


def _view_form(self: Any, args: tuple, kwargs: dict) -> bool:
    """`x.view(2, 3)`, `x.view(-1)`, `x.view((2, 3))`, `x.view(size=...)`."""
    if "size" in kwargs:
        return True
    return bool(args) and isinstance(args[0], (int, np.integer, tuple, list))


def _view(self: Any, *args: Any, size: Any = None) -> jax.Array:
    """torch's `x.view(*shape)`: the same elements in a new shape (-1 infers one dim)."""
    return jnp.reshape(self, tf._sizes(_flat(args) if size is None else (size,), "view"))


def _reduction_form(self: Any, args: tuple, kwargs: dict) -> bool:
    return _torch_kw(kwargs)


def _extreme_form(self: Any, args: tuple, kwargs: dict) -> bool:
    """`x.max(dim=1)`, `x.max(1, keepdim=True)`, `x.max(other)`."""
    return _torch_kw(kwargs) or (bool(args) and _is_array(args[0]))


def _transpose_form(self: Any, args: tuple, kwargs: dict) -> bool:
    """`x.transpose(1, 2)` where JAX would need a full permutation (ndim != 2)."""
    return (
        "dim0" in kwargs
        or len(args) == 2
        and self.ndim != 2
        and builtins.all(isinstance(a, (int, np.integer)) for a in args)
    )


def _transpose(self: Any, dim0: int, dim1: int) -> jax.Array:
    return tf.transpose(self, dim0, dim1)


def _flatten_form(self: Any, args: tuple, kwargs: dict) -> bool:
    """`x.flatten(1)`: JAX's only positional argument is a memory order string."""
    return _torch_kw(kwargs) or (bool(args) and isinstance(args[0], (int, np.integer)))


def _squeeze_form(self: Any, args: tuple, kwargs: dict) -> bool:
    """`x.squeeze(dim=1)`, or a listed dim whose size is not 1 (JAX raises; torch keeps it)."""
    if _torch_kw(kwargs):
        return True
    if len(args) == 1 and isinstance(args[0], (int, np.integer, tuple)):
        dims = args[0] if isinstance(args[0], tuple) else (args[0],)
        try:
            return builtins.any(self.shape[d] != 1 for d in dims)
        except (IndexError, TypeError):
            return False
    return False


def _repeat_form(self: Any, args: tuple, kwargs: dict) -> bool:
    """`x.repeat(2, 3)` where JAX's `axis` would be out of range, or three or more sizes."""
    if kwargs or not builtins.all(isinstance(a, (int, np.integer)) for a in args):
        return len(args) == 1 and isinstance(args[0], (tuple, list)) and len(args[0]) > 1
    return len(args) > 2 or (len(args) == 2 and not -self.ndim <= args[1] < self.ndim)


def _sort_form(self: Any, args: tuple, kwargs: dict) -> bool:
    return "dim" in kwargs


def _sort(self: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    return tf.sort(self, dim, descending, stable)


def _argsort(self: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    return tf.argsort(self, dim, descending, stable)


TORCH_FORM_METHODS: dict[str, tuple[Callable, Callable]] = {
    "view": (_view_form, _view),
    "sum": (_reduction_form, tf.sum),
    "mean": (_reduction_form, tf.mean),
    "prod": (_reduction_form, tf.prod),
    "std": (_reduction_form, tf.std),
    "var": (_reduction_form, tf.var),
    "all": (_reduction_form, tf.all),
    "any": (_reduction_form, tf.any),
    "cumsum": (_reduction_form, tf.cumsum),
    "cumprod": (_reduction_form, tf.cumprod),
    "argmax": (_reduction_form, tf.argmax),
    "argmin": (_reduction_form, tf.argmin),
    "max": (_extreme_form, tf.max),
    "min": (_extreme_form, tf.min),
    "transpose": (_transpose_form, _transpose),
    "flatten": (_flatten_form, tf.flatten),
    "squeeze": (_squeeze_form, tf.squeeze),
    "repeat": (_repeat_form, _tile),
    "sort": (_sort_form, _sort),
    "argsort": (_sort_form, _argsort),
}


def _dispatch(name: str, jax_method: Callable, is_torch_form: Callable, torch_fn: Callable):
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if is_torch_form(self, args, kwargs):
            return torch_fn(self, *args, **kwargs)
        return jax_method(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = getattr(jax_method, "__doc__", None)
    setattr(method, _MARK, jax_method)
    return method


# ---- what is missing: errors that say what to write instead --------------------------------------

_STEP = (
    "loss, grads = jtorch.value_and_grad(loss_fn)(model); optimizer.step(grads)  "
    "(inside a @jtorch.jit train step)"
)
_HINTS = {
    "backward": f"JAX computes gradients functionally; write `{_STEP}`",
    "grad": f"JAX arrays store no gradients; get them from `{_STEP}`",
    "requires_grad": "JAX arrays carry no requires_grad flag; differentiate with jtorch.grad",
    "grad_fn": "JAX records no graph on arrays; differentiate with jtorch.grad",
}


def _missing_hint(obj: Any, name: str) -> str | None:
    if name in _HINTS:
        return _HINTS[name]
    if name.endswith("_") and not name.startswith("_"):
        base = name[:-1]
        if base in ("zero", "fill", "copy", "normal", "uniform", "random"):
            return (
                f"JAX arrays are immutable: build a new array (`x = jtorch.zeros_like(x)`, "
                f"`jtorch.full_like(x, v)`, `jtorch.randn(...)`); Parameters and Buffers have "
                f"`{name}` and nn.init's in-place forms"
            )
        return f"JAX arrays are immutable: write `x = x.{base}(...)` instead of `x.{name}(...)`"
    if name in tf.__all__:
        return f"jtorch has the function: write `jtorch.{name}(x, ...)`"
    return None


def _getattr_with_hint(original: Callable | None) -> Callable:
    def __getattr__(self: Any, name: str) -> Any:
        if name.startswith("__") and original is None:  # JAX's own probes (`__jax_array__`, ...)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        if original is not None:
            try:
                return original(self, name)
            except AttributeError as err:
                hint = _missing_hint(self, name)
                if hint is None:
                    raise
                raise AttributeError(f"{err} (jtorch: {hint})") from None
        hint = _missing_hint(self, name)
        message = f"{type(self).__name__!r} object has no attribute {name!r}"
        raise AttributeError(message + (f" (jtorch: {hint})" if hint else ""))

    setattr(__getattr__, _MARK, original or True)
    return __getattr__


# Names JAX's concrete arrays already have with torch's meaning (added to the tracer class only).
_SAME_MEANING = frozenset({"clone"})


def install() -> None:
    """Add torch's methods to JAX's array and tracer classes (idempotent)."""
    for cls in ARRAY_CLASSES:
        if getattr(cls.__dict__.get("view"), _MARK, None) is not None:
            continue
        for name, method in NEW_METHODS.items():
            if name in _SAME_MEANING and name in dir(cls):
                continue
            if name in dir(cls):
                raise RuntimeError(
                    f"jtorch: JAX's {cls.__name__} now has `{name}`; jtorch would change its "
                    f"meaning, so it refuses to patch (update jtorch._tensor_methods)"
                )
            setattr(cls, name, method)
        for name, (form, torch_fn) in TORCH_FORM_METHODS.items():
            setattr(cls, name, _dispatch(name, getattr(cls, name), form, torch_fn))
        cls.size = property(_size)
        cls.__getattr__ = _getattr_with_hint(cls.__dict__.get("__getattr__"))
