"""The one restricted unpickler of jtorch (`.pth` files and dataset pickles).

Restricting `find_class` is not enough: the pickle machine can also set state on any object it
holds (BUILD calls `__setstate__` or sets attributes, SETITEM/APPEND call methods), and a global
handed out raw (a function, a class, a numpy dtype singleton) would let a file rewrite it for the
whole process (e.g. a function's `__defaults__`). So everything `find_class` and
`persistent_load` hand to the pickle machine is a `Sealed` stand-in: it can be called (a
`SealedFunction`) or passed back to the reader, and every state-setting opcode on it fails. The
objects the machine may still modify are the ones it created itself: the plain containers
(dicts, lists, OrderedDicts, ...) built by calls to the allowed functions.

Every refusal and every error while unpickling is an `UnpicklingRefused`, which is both a
`CheckpointError` and a `pickle.UnpicklingError`, and names the file.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from typing import Any

from jtorch.checkpoint._errors import CheckpointError

__all__ = ["RestrictedUnpickler", "Sealed", "SealedFunction", "UnpicklingRefused", "unpickle"]


class UnpicklingRefused(CheckpointError, pickle.UnpicklingError):
    """A pickle was refused or could not be read (nothing it names was run)."""


class Sealed:
    """Base of the stand-ins the unpickler hands out: no state can be set on them."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise UnpicklingRefused(
            f"refusing the pickle's state-setting opcode on {self!r}, an object it did not create"
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class SealedFunction(Sealed):
    """An allowed global, callable from the pickle; `name` is what the pickle calls it."""

    __slots__ = ("function", "name")

    def __init__(self, function: Callable[..., Any], name: str) -> None:
        self.function, self.name = function, name

    def __call__(self, *args: Any) -> Any:
        return self.function(*args)

    def __repr__(self) -> str:
        return f"<global {self.name}>"


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the `(module, name)` globals in `allowed` (each a `Sealed` object) and
    persistent ids through `persistent` (None: the pickle may hold none)."""

    def __init__(
        self,
        file: Any,
        allowed: Mapping[tuple[str, str], Sealed],
        source: str,
        what: str,
        persistent: Callable[[Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(file, **kwargs)
        self._allowed, self._source, self._what = allowed, source, what
        self._persistent = persistent

    def find_class(self, module: str, name: str) -> Any:
        found = self._allowed.get((module, name))
        if found is None:
            raise UnpicklingRefused(
                f"refusing to load {self._source}: it references the global `{module}.{name}`, "
                f"which is not {self._what} (nothing in the file was run)"
            )
        return found

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise UnpicklingRefused(f"{self._source}: unexpected persistent id {pid!r}")
        return self._persistent(pid)


def unpickle(data: Any, allowed: Mapping[tuple[str, str], Sealed], source: str, what: str,
             persistent: Callable[[Any], Any] | None = None, **kwargs: Any) -> Any:  # fmt: skip
    """Unpickle the file-like `data`; any failure is an `UnpicklingRefused` naming `source`."""
    try:
        return RestrictedUnpickler(data, allowed, source, what, persistent, **kwargs).load()
    except CheckpointError as err:
        if source in str(err) and isinstance(err, UnpicklingRefused):
            raise
        message = str(err) if source in str(err) else f"refusing to load {source}: {err}"
        raise UnpicklingRefused(message) from err
    except Exception as err:  # a damaged or hostile pickle can raise almost anything
        raise UnpicklingRefused(
            f"refusing to load {source}: its pickle is malformed ({type(err).__name__}: {err})"
        ) from err
