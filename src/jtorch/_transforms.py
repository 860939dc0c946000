"""`jit`, `grad`, `value_and_grad` and `no_grad` for functions that take modules and optimizers.

`jtorch.jit(f)(model, optimizer, x, y)` compiles `f` once per model structure and then, on every
call, only reads the arrays of the model's (and optimizer's) variables, runs the compiled program,
and writes the new arrays back: no NNX graph traversal per call. The structure is re-read only when
a module changed shape (a new attribute, `train()`/`eval()`, `requires_grad_`), which a global
counter in `jtorch.nn.module` records.

The global generator is threaded through as state: each call passes the generator's key and
counter in, and draws made by the traced function (`jtorch.randn`, `nn.init`, ...) fold a per-call
key (see `jtorch._random`). A function that draws advances the counter once per call.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import errors as flax_errors
from flax import nnx

from jtorch import _random, _structure
from jtorch._backend import internals
from jtorch.nn.module import Module, Parameter

__all__ = ["jit", "grad", "value_and_grad", "vjp", "no_grad", "Grads"]

_MAX_CACHED_ENTRIES = 16


def _is_variable(x: Any) -> bool:
    return isinstance(x, nnx.Variable)


def _is_static(obj: Any) -> bool:
    """Python flags and names (bool, str, None) are compile-time constants, not traced inputs."""
    return obj is None or isinstance(obj, (bool, str))


def _structured_objects(nodes: tuple[Any, ...]) -> list[Any]:
    """What can change the structure a compiled entry was built for: the nodes themselves (an
    optimizer's state node among them) and every Module and Parameter in their graph."""
    inner = [obj for _, obj in nnx.compat.iter_graph(nodes) if isinstance(obj, (Module, Parameter))]
    return [*nodes, *inner]


def _graph_node(obj: Any) -> Any | None:
    """The NNX graph node carrying `obj`'s arrays, or None for plain (pytree) arguments."""
    if isinstance(obj, Module):
        return obj
    node_of = getattr(obj, "_jtorch_state_node", None)
    return node_of() if node_of is not None else None


def _rebuild(obj: Any, node: Any) -> Any:
    """`obj` as seen inside the trace: the merged module (`obj` None), or a facade around the
    merged node."""
    if obj is None:
        return node
    return obj._jtorch_with_state_node(node)


class _Entry:
    """One compiled specialisation: the variables to read/write and the jitted pure function."""

    def __init__(
        self,
        nodes: tuple[Any, ...],
        compiled: Callable,
        graphdef: Any,
        variables: list[nnx.Variable] | None,
        treedef: Any,
    ):
        # Weak: the cache must not keep a model alive. The key holds the nodes' ids; a dead
        # node's id may be reused by a new object, which `holds` tells apart.
        self.refs = tuple(weakref.ref(node) for node in nodes)
        # invalidated when a node, Module or Parameter of this graph changes structure
        self.token = _structure.Token()
        _structure.watch(_structured_objects(nodes), self.token)
        self.compiled = compiled
        self.graphdef = graphdef
        self.variables = variables  # None: slow path (state has non-Variable leaves)
        self.treedef = treedef

    def holds(self, nodes: tuple[Any, ...]) -> bool:
        """Whether this entry was built for exactly these (live) nodes."""
        return all(ref() is node for ref, node in zip(self.refs, nodes))


class _JitFunction:
    """The callable returned by `jtorch.jit`."""

    def __init__(
        self,
        fn: Callable,
        static_argnums: Sequence[int],
        donate: bool,
        max_entries: int = _MAX_CACHED_ENTRIES,
    ):
        functools.update_wrapper(self, fn)
        self._max_entries = max_entries
        self._fn = fn
        self._static_argnums = tuple(static_argnums)
        self._donate = donate
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._compiled_by_graphdef: dict[Any, Callable] = {}
        self._draws = False  # whether a trace drew from the global generator
        self._idle_counter: tuple[int, jax.Array] | None = None

    def _compiled_for(self, graphdef: Any, positions: tuple[int, ...], facades: tuple) -> Callable:
        key = (graphdef, positions)
        compiled = self._compiled_by_graphdef.get(key)
        if compiled is not None:
            return compiled
        fn = self._fn

        def pure(values, rng, treedef, static, args, kwargs):
            state = jax.tree.unflatten(treedef, values)
            nodes = nnx.merge(graphdef, state)
            args = list(args)
            for pos, node, facade in zip(positions, nodes, facades):
                args[pos] = _rebuild(facade, node)
            static_args, static_kwargs = static
            for pos, value in static_args:
                args[pos] = value
            kwargs = {**kwargs, **dict(static_kwargs)}
            with _random.trace_frame(jax.random.fold_in(*rng)) as frame:
                out = _call_naming_closure_modules(fn, fn, args, kwargs, "jtorch.jit")
            if frame.count:
                self._draws = True
            new_graphdef, new_state = nnx.compat.split(nodes)
            if new_graphdef != graphdef:
                raise RuntimeError(
                    "jtorch.jit: the compiled function changed the structure of a module or "
                    "optimizer (added/removed attributes or switched train/eval); do that outside"
                )
            # Same dtypes (and no weak types) as the inputs, so the next call hits this trace.
            # Without donation, an array the function left alone comes back as None: returning
            # it would make XLA copy it (an eval forward would copy every weight).
            new_values = [
                None if new is old and not self._donate else jnp.asarray(new, dtype=old.dtype)
                for new, old in zip(jax.tree.leaves(new_state), values)
            ]
            return new_values, out

        compiled = jax.jit(
            pure,
            static_argnums=(2, 3),
            donate_argnums=(0,) if self._donate else (),
        )
        self._compiled_by_graphdef[key] = compiled
        return compiled

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        positions = tuple(i for i, a in enumerate(args) if _graph_node(a) is not None)
        facades = tuple(args[i] for i in positions)
        for facade in facades:
            before = getattr(facade, "_jtorch_before_jit", None)
            if before is not None:
                before()
        nodes = tuple(_graph_node(f) for f in facades)
        key = (tuple(map(id, nodes)), positions)
        entry = self._entries.get(key)
        if entry is None or not entry.token.valid or not entry.holds(nodes):
            entry = self._build_entry(nodes, positions, facades)
            self._entries[key] = entry
            self._forget_when_gone(nodes, key)
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)

        plain_args = list(args)
        for pos in positions:
            plain_args[pos] = None
        static_args = tuple((i, a) for i, a in enumerate(args) if _is_static(a))
        for pos, _ in static_args:
            plain_args[pos] = None
        static_kwargs = tuple(sorted((k, v) for k, v in kwargs.items() if _is_static(v)))
        kwargs = {k: v for k, v in kwargs.items() if not _is_static(v)}
        if entry.variables is not None:
            values = [v.get_raw_value() for v in entry.variables]
        else:
            _, state = nnx.compat.split(nodes)
            values = jax.tree.leaves(state)
        if self._donate:
            values = _distinct_buffers(values)
        treedef = entry.treedef
        rng, from_global = self._rng_args()
        new_values, out = entry.compiled(
            values, rng, treedef, (static_args, static_kwargs), tuple(plain_args), kwargs
        )
        if self._draws and from_global:
            _random.default_generator.reserve()
        if entry.variables is not None and self._donate:  # every array comes back
            internals.store_arrays(entry.variables, new_values)
        elif entry.variables is not None:
            changed = [
                (var, new) for var, new in zip(entry.variables, new_values) if new is not None
            ]
            internals.store_arrays([var for var, _ in changed], [new for _, new in changed])
        else:
            kept = [old if new is None else new for new, old in zip(new_values, values)]
            nnx.update(nodes, jax.tree.unflatten(treedef, kept))
        return out

    def _rng_args(self) -> tuple[tuple[jax.Array, Any], bool]:
        """((key, counter), from_global) for this call: the global generator's key and counter
        (advanced after the call if the function draws), or, while an enclosing `jtorch.jit`
        function is traced, a key drawn from that call's key."""
        if _random.in_trace_frame():
            return (_random.next_key(), np.uint32(0)), False
        key, counter = _random.default_generator.peek()
        if self._draws:
            return (key, np.uint32(counter)), True
        if self._idle_counter is None or self._idle_counter[0] != counter:
            # a device scalar, reused while the counter does not move (no conversion per call)
            self._idle_counter = (counter, jnp.asarray(counter, jnp.uint32))
        return (key, self._idle_counter[1]), True

    def _forget_when_gone(self, nodes: tuple[Any, ...], key: tuple) -> None:
        """Drop the entry (and the arrays it reads) once any of its nodes is garbage."""
        cache = weakref.ref(self._entries)

        def drop(_: Any) -> None:
            entries = cache()
            entry = entries.get(key) if entries is not None else None
            if entry is not None and not all(ref() is not None for ref in entry.refs):
                del entries[key]

        for node in nodes:
            weakref.finalize(node, drop, None)

    def _build_entry(self, nodes: tuple, positions: tuple[int, ...], facades: tuple) -> _Entry:
        graphdef, state = nnx.compat.split(nodes)
        variables = jax.tree.leaves(state, is_leaf=_is_variable)
        fast = all(map(_is_variable, variables)) and len(variables) == len(jax.tree.leaves(state))
        if fast:
            for var in variables:
                value = var.get_raw_value()
                if getattr(value, "weak_type", False):  # a Python-scalar-born array
                    var.set_raw_value(jnp.asarray(value, dtype=value.dtype))
        # the compiled function keeps its facades for later traces; modules are not needed there
        # (and must not be kept alive by the cache)
        facades = tuple(None if isinstance(f, Module) else f for f in facades)
        compiled = self._compiled_for(graphdef, positions, facades)
        treedef = jax.tree.structure(state)
        return _Entry(nodes, compiled, graphdef, variables if fast else None, treedef)


def _closure_modules(fn: Callable) -> list[tuple[str, Module]]:
    """Modules `fn` reaches by name without taking them as arguments: its closure cells and the
    globals it reads (one level: what the error message can name)."""
    found: list[tuple[str, Module]] = []
    code = getattr(fn, "__code__", None)
    if code is None:
        inner = getattr(fn, "func", None)  # functools.partial
        return _closure_modules(inner) if inner is not None else found
    cells = zip(code.co_freevars, getattr(fn, "__closure__", None) or ())
    for name, cell in cells:
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, Module):
            found.append((name, value))
    namespace = getattr(fn, "__globals__", {})
    for name in code.co_names:
        value = namespace.get(name)
        if isinstance(value, Module):
            found.append((name, value))
    return found


def _call_naming_closure_modules(
    call: Callable, fn: Callable, args: Any, kwargs: Any, where: str
) -> Any:
    """`call(*args, **kwargs)` (which runs `fn`), turning NNX's trace-level error for a module
    that `fn` changes (BatchNorm statistics, dropout state) without receiving it into an error
    naming that module."""
    try:
        return call(*args, **kwargs)
    except flax_errors.TraceContextError as err:
        named = ", ".join(f"`{n}` ({type(m).__name__})" for n, m in _closure_modules(fn))
        which = f"the module {named}" if named else "a module"
        raise RuntimeError(
            f"{where}: {which} is used by the function without being one of its arguments, and "
            "the call changes its state (BatchNorm statistics, dropout RNG state, parameters), "
            "which cannot be written back from inside the transformation. Pass the module as an "
            "argument (for value_and_grad, a module argument outside `argnums` is updated but not "
            "differentiated: `jtorch.value_and_grad(loss_fn)(model_a, model_b, x)`)"
        ) from err


def _distinct_buffers(values: list[Any]) -> list[Any]:
    """`values` with repeated arrays copied: XLA refuses to donate one buffer twice, and loading
    or restoring state can leave two variables holding the same array object."""
    if len(set(map(id, values))) == len(values):
        return values
    seen: set[int] = set()
    out = []
    for value in values:
        out.append(jnp.array(value, copy=True) if id(value) in seen else value)
        seen.add(id(value))
    return out


def jit(fn: Callable | None = None, *, static_argnums: Sequence[int] = (), donate: bool = False):
    """Compile `fn` with XLA; module and optimizer arguments are updated in place.

    Use as `@jtorch.jit` or `jtorch.jit(fn)`. Arguments that are Python bools, strings or None
    are compile-time constants (one compilation per value); arrays and numbers are traced.
    Every array inside a module or optimizer argument is
    an input of the compiled program, and every change the function makes to them (parameter
    updates, BatchNorm statistics, dropout RNG state, optimizer moments) is written back after
    the call. `donate=True` lets XLA reuse the old arrays' memory; then arrays read from the
    model before the call become invalid.

    Differs from torch: there is no torch equivalent; torch.compile is the closest.
    """
    if static_argnums:
        raise NotImplementedError("jtorch.jit: static_argnums is not supported yet")
    if fn is None:
        return lambda f: _JitFunction(f, static_argnums, donate)
    return _JitFunction(fn, static_argnums, donate)


class Grads(OrderedDict):
    """Gradients keyed by torch parameter names, in `named_parameters()` order.

    Also remembers which `Parameter` each entry belongs to, so `optimizer.step(grads)` matches
    them by identity. Parameters with `requires_grad=False` have no entry.
    """

    def __init__(self, items: Sequence[tuple[str, Any]] = (), params: Sequence[Parameter] = ()):
        super().__init__(items)
        self.params: tuple[Parameter, ...] = tuple(params)


def _grads_flatten(grads: Grads):
    return list(grads.values()), tuple(grads.keys())


def _grads_unflatten(keys: tuple[str, ...], values: list[Any]) -> Grads:
    return Grads(list(zip(keys, values)))


jax.tree_util.register_pytree_node(Grads, _grads_flatten, _grads_unflatten)


def _trainable(path: Any, value: Any) -> bool:
    return isinstance(value, Parameter) and value.requires_grad


def _to_grads(module: Module, state: nnx.State) -> Grads:
    """Turn NNX's gradient State into torch-named Grads (shared parameters appear once)."""
    flat = {tuple(path): var for path, var in nnx.to_flat_state(state)}
    path_of: dict[int, tuple] = {}
    for path, node in nnx.compat.iter_graph(module):
        if isinstance(node, nnx.Variable):
            path_of.setdefault(id(node), tuple(path))
    names, values, params = [], [], []
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        entry = flat.get(path_of.get(id(param), ()))
        if entry is None:
            continue
        names.append(name)
        values.append(entry.get_value())
        params.append(param)
    return Grads(list(zip(names, values)), params)


def value_and_grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False):
    """`(value, grads)` of a scalar function; modules are differentiated w.r.t. trainable params.

    For a module argument the gradient is a `Grads` (torch names → arrays); other arguments get
    JAX's usual pytree gradients. Side effects on modules (BatchNorm statistics, dropout RNG
    state) are kept, as in a torch forward pass.
    """
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def wrapper(*args: Any, **kwargs: Any):
        nnx_argnums = tuple(
            nnx.DiffState(i, _trainable) if isinstance(args[i], Module) else i for i in nums
        )
        inner = nnx.compat.value_and_grad(
            fn, argnums=nnx_argnums[0] if single else nnx_argnums, has_aux=has_aux
        )
        value, raw = _call_naming_closure_modules(inner, fn, args, kwargs, "jtorch.value_and_grad")
        raw = (raw,) if single else tuple(raw)
        grads = tuple(
            _to_grads(args[i], g) if isinstance(args[i], Module) else g for i, g in zip(nums, raw)
        )
        return value, grads[0] if single else grads

    return wrapper


def grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False):
    """Gradients of a scalar function (see `value_and_grad`); with `has_aux`, `(grads, aux)`."""
    vg = value_and_grad(fn, argnums, has_aux)

    def wrapper(*args: Any, **kwargs: Any):
        value, grads = vg(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads

    return wrapper


def vjp(fn: Callable, *primals: Any, has_aux: bool = False):
    """`(output, vjp_fn)` (with `has_aux`, `(output, vjp_fn, aux)`) of `fn(*primals)`
    (torch.func.vjp); `vjp_fn(cotangent)` returns one gradient per primal.

    A module primal is differentiated w.r.t. its trainable parameters and its gradient is a
    `Grads`. The forward runs once, here, with its side effects on modules (BatchNorm statistics,
    dropout RNG state) kept, so one forward can feed several losses, as torch's autograd graph
    does: in a GAN step, `fake, pull_g = vjp(G, noise)` updates G's statistics once; the
    discriminator's losses use `fake`, and `pull_g(d_fake)` gives G's gradients.
    """
    modules = {i: p for i, p in enumerate(primals) if isinstance(p, Module)}
    splits = {i: nnx.compat.split(m, _trainable, ...) for i, m in modules.items()}
    diff = [splits[i][1] if i in splits else p for i, p in enumerate(primals)]

    def pure(*diff_args):
        args = [
            nnx.merge(splits[i][0], d, splits[i][2], copy=True) if i in splits else d
            for i, d in enumerate(diff_args)
        ]
        out = fn(*args)
        out, aux = out if has_aux else (out, None)
        rest = {i: nnx.compat.split(args[i], _trainable, ...)[2] for i in splits}
        return out, (aux, rest)

    out, pullback, (aux, rest) = jax.vjp(pure, *diff, has_aux=True)
    for i, state in rest.items():
        nnx.update(modules[i], state)

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        raw = pullback(cotangent)
        return tuple(_to_grads(modules[i], g) if i in modules else g for i, g in enumerate(raw))

    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


class no_grad(contextlib.ContextDecorator):
    """A no-op context manager/decorator kept for torch code (torch.no_grad).

    JAX computes gradients only where `jtorch.grad` asks for them, so there is nothing to turn off.
    """

    def __enter__(self) -> no_grad:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


inference_mode = no_grad
