"""`Module`, `Parameter` and `Buffer`: torch.nn.Module's API on top of `flax.nnx.Module`.

A jtorch module is an NNX module, so NNX's split/merge, transforms and Orbax work on it unchanged.
On top, it keeps torch's bookkeeping: three ordered name lists mirroring torch's `_parameters`,
`_buffers` and `_modules` dicts. NNX sorts attribute names when it rebuilds a module; these lists
are static attributes, so registration order (and with it `state_dict` order) survives every
split/merge, including inside compiled steps.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtorch import _structure
from jtorch._backend import internals
from jtorch._device import device as _device_cls
from jtorch._device import placed_like, resolve_device
from jtorch._dtypes import Size

__all__ = ["Module", "Parameter", "Buffer"]

# Built-in layer families whose `forward` (array maths only, no checks on values) runs eagerly as
# a cached compiled program: re-tracing an LSTM's `lax.scan` on every eager call costs ~300 ms.
# A subclass that overrides `forward` runs its own Python eagerly (its built-in layers still take
# the compiled path); losses (range checks on values) and elementwise layers stay eager.
_EAGER_COMPILED_FAMILIES = frozenset(
    f"jtorch.nn.modules.{name}"
    for name in ("rnn", "conv", "linear", "normalization", "attention", "transformer", "pooling")
)
_EAGER_CACHE_ENTRIES = 64  # modules per class kept ready (and alive), least recently used out first
_compiled_forwards: dict[type, Callable] = {}


def _signature(value: Any) -> Any:
    """What a compiled forward is specialised on for one argument: (shape, dtype) of a concrete
    array, the value of a flag; `_NOT_COMPILABLE` for a tracer (a trace is running) or anything
    else (a size list, a custom object), which makes the call run its Python forward instead."""
    if isinstance(value, (jax.Array, np.ndarray)):
        if isinstance(value, jax.core.Tracer):
            return _NOT_COMPILABLE
        return value.shape, value.dtype
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, tuple):
        return tuple(map(_signature, value))
    return _NOT_COMPILABLE


_NOT_COMPILABLE = object()


def _first_parameter(module: Module) -> Parameter | None:
    """The module's first parameter (its own, else its first child's, depth first): inside `jit`
    or `grad` every parameter of a module being differentiated or compiled is a tracer."""
    for name in module._jt_params:
        param = vars(module).get(name)
        if param is not None:
            return param
    for name in module._jt_modules:
        child = vars(module).get(name)
        found = None if child is None else _first_parameter(child)
        if found is not None:
            return found
    return None


def _should_compile(module: Module, args: tuple, kwargs: dict) -> bool:
    """Compile this eager call when no trace is running (neither an argument nor the module's
    first parameter is a tracer) and every argument is an array, a tuple of arrays or a flag.
    The first call compiles too: a compiled program and the same maths op by op can differ in
    the last bit, and a module called twice on the same input must give the same bits."""
    param = _first_parameter(module)
    if param is not None and isinstance(param.get_raw_value(), jax.core.Tracer):
        return False
    flat = jax.tree.leaves(
        (_signature(args), [_signature(v) for v in kwargs.values()]),
        is_leaf=lambda x: x is _NOT_COMPILABLE,
    )
    return not any(x is _NOT_COMPILABLE for x in flat)


def _compiled_forward(cls: type) -> Callable:
    """`jtorch.jit` of `cls.forward`, one per class: compiled once per (structure, shapes,
    dtypes), with the module's state changes (BatchNorm statistics, RNG counts) written back."""
    fn = _compiled_forwards.get(cls)
    if fn is None:
        from jtorch._transforms import _JitFunction

        def forward(module: Module, *args: Any, **kwargs: Any) -> Any:
            return cls.forward(module, *args, **kwargs)

        fn = _compiled_forwards[cls] = _JitFunction(
            forward, (), donate=False, max_entries=_EAGER_CACHE_ENTRIES
        )
    return fn


class _ArrayVariable:
    """What Parameter and Buffer share: torch's tensor conveniences over an NNX Variable."""

    @property
    def value(self) -> jax.Array:
        """The array held (read or assign)."""
        return self.get_value()

    @value.setter
    def value(self, new: Any) -> None:
        self.set_value(new)

    @property
    def data(self) -> Any:
        """Torch's `.data`: this variable itself, so `init.zeros_(p.data)` and `p.data.fill_(1)`
        act on it; assign an array to replace the value.

        Differs from torch: returns the Parameter/Buffer rather than a detached tensor.
        """
        return self

    @data.setter
    def data(self, new: Any) -> None:
        self.set_value(_to_jax(new, "data"))

    def fill_(self, value: Any) -> Any:
        self.set_value(jnp.full_like(self.get_value(), value))
        return self

    def zero_(self) -> Any:
        return self.fill_(0)

    def copy_(self, src: Any) -> Any:
        current = self.get_value()
        src = _to_jax(src, "src")
        self.set_value(jnp.broadcast_to(src, current.shape).astype(current.dtype))
        return self

    def _update_(self, new: Any, name: str) -> Any:
        """Store `new` (an in-place op's result) in this variable's shape and dtype, as torch's
        in-place ops do: broadcasting that would grow the tensor, or a cast that would lose the
        result's floating point, is refused like torch refuses it."""
        current = self.get_value()
        if jnp.shape(new) != current.shape:
            raise RuntimeError(
                f"{name}: the result's shape {tuple(jnp.shape(new))} does not match this "
                f"tensor's shape {current.shape}"
            )
        if jnp.issubdtype(jnp.result_type(new), jnp.floating) and not jnp.issubdtype(
            current.dtype, jnp.inexact
        ):
            raise RuntimeError(
                f"{name}: result type {jnp.result_type(new)} can't be cast to the desired "
                f"output type {current.dtype}"
            )
        self.set_value(jnp.asarray(new).astype(current.dtype))
        return self

    def add_(self, other: Any, *, alpha: Any = 1) -> Any:
        return self._update_(self.get_value() + alpha * _to_jax(other, "other"), "add_")

    def sub_(self, other: Any, *, alpha: Any = 1) -> Any:
        return self._update_(self.get_value() - alpha * _to_jax(other, "other"), "sub_")

    def mul_(self, other: Any) -> Any:
        return self._update_(self.get_value() * _to_jax(other, "other"), "mul_")

    def div_(self, other: Any) -> Any:
        return self._update_(self.get_value() / _to_jax(other, "other"), "div_")

    def size(self, dim: int | None = None) -> Any:
        shape = self.get_value().shape
        return Size(shape) if dim is None else shape[dim]

    def numel(self) -> int:
        return int(np.prod(self.get_value().shape))

    def dim(self) -> int:
        return self.get_value().ndim

    def detach(self) -> jax.Array:
        return jax.lax.stop_gradient(self.get_value())

    def numpy(self) -> np.ndarray:
        return np.asarray(self.get_value())


class Parameter(_ArrayVariable, nnx.Param):
    """A trainable array registered on a Module (torch.nn.Parameter).

    Behaves like its array in expressions (`x @ p`, `p + 1`, `p.shape`, `jnp.sum(p)`); the array is
    `p.value`. Pass `jnp.asarray(p)` to `jax.lax` primitives, which do not accept wrappers.
    """

    def __init__(self, data: Any = None, requires_grad: bool = True, **metadata: Any):
        data = jnp.zeros((0,), jnp.float32) if data is None else _to_jax(data, "data")
        super().__init__(data, requires_grad=bool(requires_grad), **metadata)

    @property
    def requires_grad(self) -> bool:
        return bool(self.get_metadata("requires_grad", True))

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.set_metadata(requires_grad=bool(flag))
        _structure.changed(self)

    def requires_grad_(self, requires_grad: bool = True) -> Parameter:
        self.requires_grad = requires_grad
        return self

    def __repr__(self) -> str:
        return f"Parameter containing:\n{np.asarray(self.get_value())!r}"


class Buffer(_ArrayVariable, nnx.Variable):
    """A non-trainable array on a Module (torch.nn.Buffer), e.g. BatchNorm's running_mean.

    `persistent=False` keeps it out of `state_dict`, as in torch.
    """

    def __init__(self, data: Any = None, persistent: bool = True, **metadata: Any):
        data = jnp.zeros((0,), jnp.float32) if data is None else _to_jax(data, "data")
        super().__init__(data, persistent=bool(persistent), **metadata)

    @property
    def persistent(self) -> bool:
        return bool(self.get_metadata("persistent", True))

    def __repr__(self) -> str:
        return repr(np.asarray(self.get_value()))


def _to_jax(value: Any, name: str) -> jax.Array:
    """Convert a jax/numpy array, Python number or torch tensor (without importing torch)."""
    if isinstance(value, nnx.Variable):
        return value.get_value()
    if isinstance(value, jax.Array):
        return value
    if type(value).__module__.startswith("torch"):
        tensor = value.detach().cpu()
        if str(tensor.dtype) == "torch.bfloat16":
            return jnp.asarray(tensor.float().numpy(), dtype=jnp.bfloat16)
        return jnp.asarray(tensor.numpy())
    try:
        return jnp.asarray(value)
    except TypeError as err:
        raise TypeError(
            f"`{name}`: expected an array (jax, numpy or torch), got {type(value).__name__}"
        ) from err


class _IncompatibleKeys(NamedTuple):
    """What `load_state_dict` returns: the keys it did not find and the keys it did not use."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"_IncompatibleKeys(missing_keys={self.missing_keys!r}, "
            f"unexpected_keys={self.unexpected_keys!r})"
        )


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class Module(nnx.Module):
    """Base class for all layers and models (torch.nn.Module).

    Subclass it, call `super().__init__()`, assign `Parameter`s, buffers and sub-modules as
    attributes, and define `forward`. Calling the module runs `forward`.

    Differs from torch: gradients are not stored on parameters (`jtorch.grad` returns them), so
    `zero_grad()` is a no-op; `to(device)` moves arrays with `jax.device_put`.
    """

    training: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments: "
                f"{', '.join([repr(a) for a in args] + list(kwargs))}"
            )
        object.__setattr__(self, "_jt_params", ())
        object.__setattr__(self, "_jt_buffers", ())
        object.__setattr__(self, "_jt_modules", ())
        object.__setattr__(self, "_jt_nonpersistent", frozenset())
        self.training = True

    # ------------------------------------------------------------------ registration

    def _check_initialised(self, name: str) -> None:
        if "_jt_params" not in vars(self):
            raise AttributeError(
                f"cannot assign `{name}` before {type(self).__name__}.__init__() calls "
                "super().__init__()"
            )

    def _set_names(self, kind: str, names: tuple[str, ...]) -> None:
        object.__setattr__(self, kind, names)
        _structure.changed(self)

    def _forget(self, name: str) -> None:
        for kind in ("_jt_params", "_jt_buffers", "_jt_modules"):
            names = getattr(self, kind)
            if name in names:
                self._set_names(kind, tuple(n for n in names if n != name))

    def _store(self, name: str, value: Any) -> None:
        """Set an attribute as NNX data (arrays, Variables, modules) or static, explicitly."""
        _structure.changed(self)  # a new object may sit where compiled code expects the old one
        leaves = jax.tree.leaves(value, is_leaf=nnx.is_data)
        if isinstance(value, (nnx.Variable, nnx.Pytree)) or any(map(nnx.is_data, leaves)):
            super().__setattr__(name, nnx.data(value))
        else:
            super().__setattr__(name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if internals.is_nnx_bookkeeping(name) or name.startswith("_jt_"):
            object.__setattr__(self, name, value)
            return
        if isinstance(value, Parameter):
            self._check_initialised(name)
            self._register(name, value, "_jt_params")
        elif isinstance(value, Module):
            self._check_initialised(name)
            self._register(name, value, "_jt_modules")
        elif isinstance(value, Buffer):
            self._check_initialised(name)
            self._register(name, value, "_jt_buffers")
        elif "_jt_params" in vars(self) and name in self._jt_params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter `{name}` "
                    "(jtorch.nn.Parameter or None expected; to change its values assign "
                    f"`module.{name}.value = ...`)"
                )
            self._store(name, None)
        elif "_jt_buffers" in vars(self) and name in self._jt_buffers:
            current = vars(self).get(name)
            if value is None or not isinstance(current, Buffer):
                persistent = name not in self._jt_nonpersistent
                self._store(name, None if value is None else Buffer(value, persistent=persistent))
            else:
                current.value = _to_jax(value, name)
        elif "_jt_modules" in vars(self) and name in self._jt_modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module `{name}` "
                    "(jtorch.nn.Module or None expected)"
                )
            self._store(name, None)
        else:
            self._store(name, value)

    def _register(self, name: str, value: Any, kind: str) -> None:
        # Re-registering under the same kind keeps the name's position (torch replaces the
        # dict entry in place); a name moving to another kind leaves its old list.
        for other in ("_jt_params", "_jt_buffers", "_jt_modules"):
            if other != kind and name in getattr(self, other):
                self._set_names(other, tuple(n for n in getattr(self, other) if n != name))
        names = getattr(self, kind)
        if name not in names:
            self._set_names(kind, names + (name,))
        self._store(name, value)

    def __delattr__(self, name: str) -> None:
        if "_jt_params" in vars(self):
            self._forget(name)
        super().__delattr__(name)

    def _check_name(self, name: Any, what: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
        if not name:
            raise KeyError(f'{what} name can\'t be empty string ""')
        if "." in name:
            raise KeyError(f'{what} name can\'t contain ".", got: {name}')
        if name in vars(self) and not (
            name in self._jt_params or name in self._jt_buffers or name in self._jt_modules
        ):
            raise KeyError(f"attribute '{name}' already exists")

    def add_module(self, name: str, module: Module | None) -> None:
        """Register `module` as a child called `name` (torch.nn.Module.add_module)."""
        self._check_initialised(str(name))
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if module is None:
            self._register(name, None, "_jt_modules")
        else:
            setattr(self, name, module)

    register_module = add_module

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` (or a None slot) under `name`."""
        self._check_initialised(str(name))
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(jtorch.nn.Parameter or None required)"
            )
        if param is None:
            self._register(name, None, "_jt_params")
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Register an array (or a None slot) as a buffer; non-persistent ones skip state_dict."""
        self._check_initialised(str(name))
        self._check_name(name, "buffer")
        nonpersistent = set(self._jt_nonpersistent)
        (nonpersistent.discard if persistent else nonpersistent.add)(name)
        self._set_names("_jt_nonpersistent", frozenset(nonpersistent))
        if tensor is None:
            self._register(name, None, "_jt_buffers")
        else:
            value = tensor if isinstance(tensor, Buffer) else Buffer(tensor, persistent=persistent)
            self._register(name, value, "_jt_buffers")

    # ------------------------------------------------------------------ calling

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if type(self).forward.__module__ in _EAGER_COMPILED_FAMILIES and _should_compile(
            self, args, kwargs
        ):
            return _compiled_forward(type(self))(self, *args, **kwargs)
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ traversal

    def _members(self, kind: str) -> Iterator[tuple[str, Any]]:
        for name in getattr(self, kind):
            yield name, vars(self).get(name)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, module in self._members("_jt_modules"):
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        if memo is None:
            memo = set()
        if remove_duplicate and id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._members("_jt_modules"):
            if module is None:
                continue
            yield from module.named_modules(
                memo, prefix + ("." if prefix else "") + name, remove_duplicate
            )

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def _named_members(
        self, kind: str, prefix: str, recurse: bool, remove_duplicate: bool
    ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for module_prefix, module in modules:
            for name, value in module._members(kind):
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        yield from self._named_members("_jt_params", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Buffer]]:
        yield from self._named_members("_jt_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Buffer]:
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def get_submodule(self, target: str) -> Module:
        """The sub-module at dotted path `target` ('' is self)."""
        module: Module = self
        if not target:
            return module
        walked = []
        for item in target.split("."):
            walked.append(item)
            if item not in module._jt_modules:
                raise AttributeError(
                    f"{module._get_name()} has no sub-module `{item}` (looking up "
                    f"`{'.'.join(walked)}` of `{target}`)"
                )
            module = vars(module)[item]
        return module

    def get_parameter(self, target: str) -> Parameter:
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._jt_params:
            raise AttributeError(f"`{target}` is not a parameter")
        return vars(module)[name]

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every sub-module (children first) and then on self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and moves

    def train(self, mode: bool = True) -> Module:  # type: ignore[override]
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:  # type: ignore[override]
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """No-op: gradients are returned by `jtorch.grad`, never stored on parameters."""

    def _map_arrays(self, fn: Callable[[jax.Array], jax.Array]) -> Module:
        seen: set[int] = set()
        for module in self.modules():
            for kind in ("_jt_params", "_jt_buffers"):
                for _, var in module._members(kind):
                    if var is not None and id(var) not in seen:
                        seen.add(id(var))
                        var.value = fn(var.value)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move and/or cast floating arrays: `to(device)`, `to(dtype)`, `to(device, dtype)`."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, (str, _device_cls)) or hasattr(arg, "platform"):
                device = arg
            else:
                dtype = arg
        if dtype is not None:
            dtype = jnp.dtype(dtype)
            if not jnp.issubdtype(dtype, jnp.floating):
                raise TypeError(f"Module.to only accepts floating point dtypes, got {dtype}")
            self._map_arrays(
                lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a
            )
        if device is not None:
            target = resolve_device(device)
            self._map_arrays(lambda a: jax.device_put(a, target))
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: int | None = None) -> Module:
        return self.to("cuda" if device is None else f"cuda:{device}")

    def float(self) -> Module:
        return self.to(jnp.float32)

    def double(self) -> Module:
        return self.to(jnp.float64)

    def half(self) -> Module:
        return self.to(jnp.float16)

    def bfloat16(self) -> Module:
        return self.to(jnp.bfloat16)

    # ------------------------------------------------------------------ state dict

    def state_dict(
        self, destination: dict | None = None, prefix: str = "", keep_vars: bool = False
    ) -> OrderedDict[str, Any]:
        """Torch-named arrays: own parameters, own persistent buffers, then each child's."""
        out: OrderedDict[str, Any] = OrderedDict() if destination is None else destination
        for name, param in self._members("_jt_params"):
            if param is not None:
                out[prefix + name] = param if keep_vars else param.value
        for name, buf in self._members("_jt_buffers"):
            if buf is not None and name not in self._jt_nonpersistent:
                out[prefix + name] = buf if keep_vars else buf.value
        for name, module in self._members("_jt_modules"):
            if module is not None:
                module.state_dict(destination=out, prefix=prefix + name + ".", keep_vars=keep_vars)
        return out

    def load_state_dict(
        self, state_dict: dict[str, Any], strict: bool = True, assign: bool = False
    ) -> _IncompatibleKeys:
        """Copy arrays from `state_dict` into this module's parameters and persistent buffers.

        Accepts jax, numpy or torch arrays. Values are cast to each parameter's dtype and placed
        like it (its device, or its sharding in a DDP/FSDP model) unless `assign=True`. Returns
        `(missing_keys, unexpected_keys)`; with `strict=True` either being non-empty raises
        RuntimeError, and a shape mismatch always does (naming key and shapes).
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(
                f"Expected state_dict to be dict-like, got {type(state_dict).__name__}."
            )
        own = self.state_dict(keep_vars=True)
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        errors = []
        updates: list[tuple[nnx.Variable, jax.Array]] = []
        for key, var in own.items():
            if key not in state_dict:
                continue
            value = _to_jax(state_dict[key], key)
            if tuple(value.shape) != tuple(var.value.shape):
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} "
                    f"from checkpoint, the shape in current model is {tuple(var.value.shape)}."
                )
                continue
            if not assign:
                value = placed_like(value.astype(var.value.dtype), var.value)
            updates.append((var, value))
        if strict:
            if unexpected:
                errors.insert(
                    0,
                    "Unexpected key(s) in state_dict: "
                    + ", ".join(f'"{k}"' for k in unexpected)
                    + ". ",
                )
            if missing:
                errors.insert(
                    0,
                    "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ",
                )
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(errors)
            )
        for var, value in updates:
            var.value = value
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing

    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """Extra text inside the parentheses of this module's repr; override in layers."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            f"({name}): " + _addindent(repr(module), 2)
            for name, module in self._members("_jt_modules")
        ]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"

    __str__ = __repr__  # NNX's Representable defines __str__; print(model) shows torch's text
