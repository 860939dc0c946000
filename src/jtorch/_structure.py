"""Which compiled `jtorch.jit` entries depend on which objects, so that a structure change
(attribute registration, train/eval, requires_grad, an optimizer's new state) makes only the
entries built over the changed object re-read their structure.

An entry holds a `Token`; `watch(objects, token)` registers it with every module, variable and
optimizer node of its graph, and `changed(obj)` invalidates the tokens registered with `obj`.
Registrations are keyed by `id` (Parameters are not hashable) and dropped by a finalizer when the
object dies, before its id can be reused; tokens are held weakly, so a dropped entry leaves
nothing behind.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

__all__ = ["Token", "watch", "changed"]

_tokens_of: dict[int, weakref.WeakSet[Token]] = {}


class Token:
    """Valid until an object it watches changes structure."""

    __slots__ = ("valid", "__weakref__")

    def __init__(self) -> None:
        self.valid = True


def watch(objects: Iterable[Any], token: Token) -> None:
    """Invalidate `token` when any of `objects` changes structure."""
    for obj in objects:
        key = id(obj)
        tokens = _tokens_of.get(key)
        if tokens is None:
            tokens = _tokens_of[key] = weakref.WeakSet()
            weakref.finalize(obj, _tokens_of.pop, key, None)
        tokens.add(token)


def changed(obj: Any) -> None:
    """`obj`'s structure changed: every entry built over it must re-read its structure."""
    tokens = _tokens_of.get(id(obj))
    if tokens:
        for token in tokens:
            token.valid = False
        tokens.clear()
