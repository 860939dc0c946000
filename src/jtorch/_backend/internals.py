"""Every private name of a dependency that jtorch relies on, in one place.

Each function below wraps one internal of Flax or Orbax that no public API offers, says why
jtorch needs it, and names the versions it was checked against. `tests/test_internals.py`
exercises each one (so a release that changes it fails loudly there, not in a user's step) and
checks that no other file of the package names a private dependency attribute.

Checked against: flax 0.12.8, orbax-checkpoint 0.12.8 (jax 0.10.2).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = [
    "store_arrays",
    "swap_arrays",
    "blank_nnx_object",
    "is_nnx_bookkeeping",
    "on_orbax_commit",
    "jax_array_classes",
]


def jax_array_classes() -> tuple[type, ...]:
    """JAX's concrete array class and its tracer class, which `jtorch._tensor_methods` extends
    with torch's methods (no public name reaches the concrete class without making an array)."""
    from jax._src.array import ArrayImpl

    return (ArrayImpl, jax.core.Tracer)


# --- flax.nnx.Variable: the array slot -----------------------------------------------------


@functools.cache
def _raw_slot_is_plain() -> bool:
    """Whether NNX keeps a Variable's array in a plain `_raw_value` attribute (flax 0.12.x); if
    a later Flax changes that, the public setter is used and only speed is lost. Probed on first
    use, not at import: creating arrays starts JAX's backend, which must wait for
    `jax.distributed.initialize` in multi-process programs."""
    probe = nnx.Variable(jnp.zeros(()))
    marker = jnp.ones(())
    try:
        object.__setattr__(probe, "_raw_value", marker)
    except AttributeError:
        return False
    return probe.get_raw_value() is marker


def store_arrays(variables: Sequence[nnx.Variable], values: Sequence[Any]) -> None:
    """Store new arrays in the variables (after a compiled call).

    NNX's setter checks the trace context on every write (~8 µs, more than the rest of a small
    step's Python overhead); all variables share one context, so only the first write goes
    through the checked setter and the rest store the array directly.
    """
    if not variables:
        return
    variables[0].set_raw_value(values[0])
    if _raw_slot_is_plain():
        store = object.__setattr__
        for var, value in zip(variables[1:], values[1:]):
            store(var, "_raw_value", value)
    else:
        for var, value in zip(variables[1:], values[1:]):
            var.set_raw_value(value)


def swap_arrays(variables: Sequence[nnx.Variable], values: Sequence[Any]) -> list[Any]:
    """Put `values` (possibly tracers of another trace level) into the variables without NNX's
    trace-level check, returning the previous values; the caller restores them right after, so
    no tracer outlives its trace (LBFGS re-evaluating a closure at substituted parameters)."""
    old = [v.get_value() for v in variables]
    for var, value in zip(variables, values):
        object.__setattr__(var, "_raw_value", value)
    return old


# --- flax.nnx.Pytree: object bookkeeping ---------------------------------------------------

_NNX_PREFIX = "_pytree__"


def blank_nnx_object(cls: type) -> Any:
    """An instance of an `nnx.Pytree` subclass with NNX's bookkeeping set up but no `__init__`
    run (rebuilding a saved module without calling its constructor)."""
    from flax.nnx import pytreelib

    obj = cls.__new__(cls)
    object.__setattr__(obj, "_pytree__state", pytreelib.PytreeState())
    object.__setattr__(obj, "_pytree__nodes", cls._pytree__nodes)
    return obj


def is_nnx_bookkeeping(name: str) -> bool:
    """Whether an attribute name is one of NNX's own (`_pytree__state`, `_pytree__nodes`, ...),
    which must bypass jtorch's registration of parameters and modules."""
    return name.startswith(_NNX_PREFIX)


# --- orbax.checkpoint.CheckpointManager: the commit hook -----------------------------------


def on_orbax_commit(manager_cls: type, hook: Callable[[Any, int], None]) -> type:
    """A subclass of Orbax's CheckpointManager that calls `hook(manager, step)` after a step's
    directory is committed (renamed into place) and before older steps are deleted: Orbax's
    `_finalize` is the only point where both hold, in synchronous and asynchronous saves."""

    class HookedManager(manager_cls):
        def _finalize(self, step: int, steps_to_remove: list[int]) -> None:
            hook(self, step)
            super()._finalize(step, steps_to_remove)

    return HookedManager
