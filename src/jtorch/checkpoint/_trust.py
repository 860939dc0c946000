"""What a full-model checkpoint may name: the rules that turn a stored `module:qualname` into a
class or function without running anything the file chooses.

A checkpoint is untrusted input, so resolving a name never imports a module the file names. A name
resolves only when

- its module is already imported (`sys.modules`, which includes `__main__`), is a public module
  of jtorch itself (jtorch's own code, imported on demand), or was trusted explicitly by the caller
  (`jtorch.load(path, trusted=["my_models"])`); and
- the qualname is a single identifier, read from the module's own namespace (`vars(module)`, so
  no `__getattr__` hook runs and no attribute chain leads into another module); and
- the object found is what the record claims: a class must be a `jtorch.nn.Module` subclass whose
  `__module__`/`__qualname__` are the stored ones; a function must be on the short list of
  activation-like functions (`jtorch.nn.functional`, `jax.nn`, a few `jax.numpy` ufuncs) or have
  been allowed by the caller (`add_safe_globals([...])` or `trusted=[...]`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from collections.abc import Iterable
from typing import Any

from jtorch.checkpoint._errors import CheckpointError

__all__ = [
    "Trust",
    "add_safe_globals",
    "clear_safe_globals",
    "get_safe_globals",
    "function_allowed",
]

_JNP_FUNCTIONS = ("tanh", "exp", "log", "abs", "square", "sqrt", "sin", "cos", "negative")
_safe_globals: dict[tuple[str, str], Any] = {}


def _path(obj: Any) -> tuple[str, str]:
    return getattr(obj, "__module__", None) or "", getattr(obj, "__qualname__", None) or ""


def add_safe_globals(objects: Iterable[Any]) -> None:
    """Allow these classes (jtorch.nn.Module subclasses) and functions in every later
    `jtorch.load` of a full-model checkpoint (torch.serialization.add_safe_globals)."""
    for obj in objects:
        module, qualname = _path(obj)
        if not (module and qualname) or not callable(obj):
            raise TypeError(
                "add_safe_globals: each entry must be a class or function with __module__ and "
                f"__qualname__, got {obj!r}"
            )
        _safe_globals[module, qualname] = obj


def get_safe_globals() -> list[Any]:
    """The classes and functions allowed with `add_safe_globals`."""
    return list(_safe_globals.values())


def clear_safe_globals() -> None:
    """Forget every class and function allowed with `add_safe_globals`."""
    _safe_globals.clear()


@functools.cache
def _builtin_functions() -> dict[int, Any]:
    """Functions a module may hold as an attribute (`self.act = F.relu`), by identity."""
    import jax
    import jax.numpy as jnp

    import jtorch.nn.functional as F

    found = [getattr(F, name) for name in F.__all__]
    found += [getattr(jax.nn, name) for name in dir(jax.nn) if not name.startswith("_")]
    found += [getattr(jnp, name) for name in _JNP_FUNCTIONS]
    return {id(f): f for f in found if callable(f) and not inspect.isclass(f)}


def function_allowed(obj: Any) -> bool:
    """True if `obj` may be stored by name (and resolved again on load)."""
    return id(obj) in _builtin_functions() or _safe_globals.get(_path(obj)) is obj


def _is_dotted_name(text: Any) -> bool:
    return isinstance(text, str) and bool(text) and all(p.isidentifier() for p in text.split("."))


class Trust:
    """The names one `jtorch.load` call may resolve: the global rules plus `trusted`, a list of
    classes, functions and module names (strings) the caller vouches for."""

    def __init__(self, trusted: Iterable[Any] | None = None) -> None:
        self.objects: dict[tuple[str, str], Any] = {}
        self.modules: set[str] = set()
        for item in trusted or ():
            if isinstance(item, str):
                if not _is_dotted_name(item):
                    raise ValueError(f"jtorch.load: `trusted` module name {item!r} is not valid")
                self.modules.add(item)
            elif callable(item) and all(_path(item)):
                self.objects[_path(item)] = item
            else:
                raise TypeError(
                    "jtorch.load: `trusted` holds classes, functions and module names (str), got "
                    f"{item!r}"
                )

    def resolve(self, module: Any, qualname: Any, what: str) -> Any:
        """The class (what='class'), function ('function') or either ('global') stored as
        `module:qualname`, or a CheckpointError saying why not and how to allow it."""
        if not (_is_dotted_name(module) and isinstance(qualname, str) and qualname.isidentifier()):
            raise CheckpointError(
                f"refusing {what} name {module!r}:{qualname!r}: not a module-level name (classes "
                "defined inside functions or other classes cannot be rebuilt)"
            )
        explicit = self.objects.get((module, qualname), _safe_globals.get((module, qualname)))
        obj = explicit if explicit is not None else self._lookup(module, qualname, what)
        from jtorch.nn.module import Module

        is_module_class = isinstance(obj, type) and issubclass(obj, Module)
        if is_module_class and what != "function":
            if explicit is None and _path(obj) != (module, qualname):
                raise CheckpointError(
                    f"refusing class `{module}.{qualname}`: that name refers to "
                    f"`{'.'.join(_path(obj))}`, not a class defined there"
                )
            return obj
        if not is_module_class and what != "class" and callable(obj):
            if explicit is not None or function_allowed(obj):
                return obj
            raise CheckpointError(
                f"refusing function `{module}.{qualname}`: only activation-like functions "
                "(jtorch.nn.functional, jax.nn) and functions allowed with "
                "jtorch.checkpoint.add_safe_globals([...]) or jtorch.load(..., trusted=[...]) may "
                "be referenced by a checkpoint"
            )
        expected = {"class": "a jtorch.nn.Module subclass", "function": "an allowed function"}
        raise CheckpointError(
            f"refusing `{module}.{qualname}`: it is not "
            f"{expected.get(what, 'a jtorch.nn.Module subclass or an allowed function')}"
        )

    def _lookup(self, module: str, qualname: str, what: str) -> Any:
        mod = sys.modules.get(module)
        parts = module.split(".")
        # jtorch's own public modules may be imported (never `__main__` or private ones)
        own = parts[0] == "jtorch" and not any(p.startswith("_") for p in parts)
        if mod is None and (module in self.modules or own):
            try:
                mod = importlib.import_module(module)
            except ImportError:
                mod = None
        obj = vars(mod).get(qualname) if mod is not None else None
        if obj is None:
            state = "does not define it" if mod is not None else "is not imported"
            raise CheckpointError(
                f"cannot rebuild the saved model: {what} `{qualname}` from module `{module}` is "
                f"not available (module `{module}` {state}; jtorch.load never imports a module a "
                f"checkpoint names). Import or define `{qualname}` before calling jtorch.load, or "
                f"allow it explicitly: jtorch.load(path, trusted=[{qualname}]), "
                f"jtorch.load(path, trusted=[{module!r}]) to import its module, or "
                f"jtorch.checkpoint.add_safe_globals([{qualname}])"
            )
        return obj
