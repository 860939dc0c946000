"""What a closure reads, split into arrays (inputs of a compiled program) and a cache key.

`LBFGS.step(closure)` outside `jit` compiles one program per closure *code*, not per closure
object: torch scripts define the closure afresh at every step (often over new batches), so the
closure's identity changes every call while its code and the shapes it reads do not.
`closure_inputs` walks what the closure's code reads by name — its free variables, defaults and
the module globals it names, recursively through the functions of its own module it reaches
that way — plus extra roots (the model passed to `step`):

- jax arrays (also inside tuples, lists, dicts) and the Variables of NNX modules (parameters,
  buffers) become inputs: while the program is traced, each is replaced by its tracer in place
  (the cell, the globals dict, the defaults, the Variable) and put back right after;
- numbers, strings, dtypes, code objects, NNX graph structures and numpy arrays (by content) go
  into the key by value;
- every other object (library functions, Python modules, classes, an Optimizer, the object of
  a bound method) goes into the key by identity: a new object means a new program. Arrays read
  through such objects or through methods are compiled in as constants; those held directly as
  attributes (`self.x`) are keyed by identity (assigning a new one recompiles), deeper ones
  (`self.data['x']`) are not seen when replaced in place.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np
from flax import nnx

from jtorch._backend import internals

_BY_VALUE = (type(None), bool, int, float, complex, str, bytes, type(Ellipsis), np.dtype)


def _code_names(code: types.CodeType) -> set[str]:
    """Every global name `code` and the code nested in it (lambdas, comprehensions) may read."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


class _Walk:
    """One walk over a closure's environment: slots to substitute, the key, the objects kept."""

    def __init__(self, skip: set[int]):
        self.skip = skip  # Variables handled elsewhere (the optimizer's own parameters)
        self.key: list[Any] = []
        self.slot_arrays: list[jax.Array] = []
        self.variable_arrays: list[jax.Array] = []
        self.slots: list[tuple[Callable[[], Any], Callable[[Any], None], Any]] = []
        self.variables: list[nnx.Variable] = []
        self.seen_functions: set[int] = set()
        self.seen_variables: set[int] = set()
        self.module_globals: dict[str, Any] | None = None
        self.refs: list[Any] = []

    def slot(self, name: Any, get: Callable[[], Any], put: Callable[[Any], None]) -> None:
        """Record what one slot (a cell, a global, ...) holds; arrays in it become inputs."""
        value = get()
        leaves, treedef = jax.tree.flatten(value, is_leaf=_is_opaque)
        positions = []
        keys = []
        for i, leaf in enumerate(leaves):
            if isinstance(leaf, jax.Array):
                positions.append(i)
                keys.append(("array", leaf.shape, leaf.dtype, leaf.weak_type))
            else:
                keys.append(self.leaf_key(leaf))  # may walk further slots first
        self.key.append((name, treedef, tuple(keys)))
        if positions:
            self.slot_arrays.extend(leaves[i] for i in positions)
            self.slots.append((get, put, (treedef, leaves, positions)))

    def leaf_key(self, leaf: Any) -> Any:
        if isinstance(leaf, _BY_VALUE):
            return (type(leaf), leaf)
        if isinstance(leaf, np.ndarray):
            return ("numpy", leaf.shape, leaf.dtype, leaf.tobytes())
        if isinstance(leaf, nnx.Variable):
            self.variable(leaf)
            return ("variable", type(leaf))
        if isinstance(leaf, nnx.Pytree):
            graphdef = nnx.compat.graphdef(leaf)
            for _, node in nnx.compat.iter_graph(leaf):
                if isinstance(node, nnx.Variable):
                    self.variable(node)
            return ("graph", graphdef)
        if isinstance(leaf, types.MethodType):
            return ("method", self.leaf_key(leaf.__func__), self.leaf_key(leaf.__self__))
        if isinstance(leaf, types.FunctionType) and leaf.__globals__ is self.module_globals:
            self.function(leaf)
            return ("function", leaf.__code__)
        # Arrays held as attributes (`self.x` of a method's object) are compiled in as constants:
        # their identities join the key, so assigning a new array recompiles instead of reusing
        # a stale program. `refs` keeps them (and unhashable objects) alive with the key, so
        # their ids stay unique.
        attributes = getattr(leaf, "__dict__", None)
        held = []
        if isinstance(attributes, dict) and not isinstance(leaf, (type, types.ModuleType)):
            held = [(k, id(v)) for k, v in attributes.items() if isinstance(v, jax.Array)]
            self.refs.extend(attributes[k] for k, _ in held)
        try:
            hash(leaf)
        except TypeError:
            self.refs.append(leaf)
            return ("object id", id(leaf), tuple(held))
        return ("object", leaf, tuple(held))  # by identity (or the object's own equality)

    def variable(self, var: nnx.Variable) -> None:
        if id(var) in self.skip or id(var) in self.seen_variables:
            return
        self.seen_variables.add(id(var))
        value = var.get_value()
        if isinstance(value, jax.Array):
            self.variables.append(var)
            self.variable_arrays.append(value)
            self.key.append(("variable-value", value.shape, value.dtype, value.weak_type))
        else:
            self.key.append(("variable-value", self.leaf_key(value)))

    def function(self, fn: types.FunctionType) -> None:
        """Walk a function of the closure's module: cells, defaults, the globals it names."""
        if id(fn) in self.seen_functions:
            return
        self.seen_functions.add(id(fn))
        self.key.append(("code", fn.__code__))
        for i, cell in enumerate(fn.__closure__ or ()):
            try:
                cell.cell_contents  # noqa: B018 (an unbound cell raises ValueError)
            except ValueError:
                self.key.append(("empty cell", i))
                continue
            self.slot(
                ("cell", i),
                lambda cell=cell: cell.cell_contents,
                lambda v, cell=cell: setattr(cell, "cell_contents", v),
            )
        if fn.__defaults__:
            self.slot(
                "defaults",
                lambda fn=fn: fn.__defaults__,
                lambda v, fn=fn: setattr(fn, "__defaults__", v),
            )
        if fn.__kwdefaults__:
            self.slot(
                "kwdefaults",
                lambda fn=fn: fn.__kwdefaults__,
                lambda v, fn=fn: setattr(fn, "__kwdefaults__", v),
            )
        scope = fn.__globals__
        for name in sorted(_code_names(fn.__code__)):
            if name in scope:
                self.slot(
                    ("global", name),
                    lambda name=name: scope[name],
                    lambda v, name=name: scope.__setitem__(name, v),
                )


def _is_opaque(x: Any) -> bool:
    """Leaves of a slot's value: everything but plain containers (NNX nodes are not unpacked)."""
    return isinstance(x, (nnx.Pytree, nnx.Variable))


class ClosureInputs:
    """A closure's arrays (`arrays`), the key of its compiled program (`key`, valid while `refs`
    is kept with it) and `substitute`, which puts other values (tracers) in the arrays' places
    for the duration of a trace."""

    def __init__(self, walk: _Walk):
        self.key = tuple(walk.key)
        self.arrays = walk.slot_arrays + walk.variable_arrays
        self.refs = walk.refs
        self._slots = walk.slots
        self._variables = walk.variables

    @contextlib.contextmanager
    def substitute(self, values: list[Any]) -> Iterator[None]:
        """Within the block every array the closure reads is the matching entry of `values`."""
        values = list(values)
        restore = []
        try:
            for get, put, (treedef, leaves, positions) in self._slots:
                old = get()
                new = list(leaves)
                for i in positions:
                    new[i] = values.pop(0)
                put(jax.tree.unflatten(treedef, new))
                restore.append((put, old))
            old_vars = internals.swap_arrays(self._variables, values[: len(self._variables)])
            restore.append((lambda v: internals.swap_arrays(self._variables, v), old_vars))
            yield
        finally:
            for put, old in reversed(restore):
                put(old)


def closure_inputs(closure: Callable, roots: tuple[Any, ...], skip: set[int]) -> ClosureInputs:
    """Walk `closure` and `roots` (NNX modules, e.g. the model passed to `step`) as the module
    docstring says; the Variables whose ids are in `skip` are left alone."""
    walk = _Walk(skip)
    if isinstance(closure, types.FunctionType):
        walk.module_globals = closure.__globals__
        walk.function(closure)
    else:
        walk.key.append(("callable", walk.leaf_key(closure)))
    for root in roots:
        walk.key.append(("root", walk.leaf_key(root)))
    return ClosureInputs(walk)
