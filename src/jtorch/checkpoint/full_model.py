"""Full-model saves: a module tree recorded as class paths, plain attributes and arrays.

For every module the record holds its class (`module` + `qualname`), and, in attribute order,
each parameter, buffer (with its `persistent` flag), child module (or empty slot) and plain
attribute (ints, floats, strings, bools, None, tuples/lists/dicts of them, allowed functions).
Rebuilding never calls the user's `__init__` and never unpickles anything: it creates the object
with `cls.__new__(cls)`, runs `Module.__init__`, and sets the recorded attributes in order. That
reproduces model surgery (`classifier[6] = nn.Linear(4096, 10)`, `add_module(...)`) exactly,
because what is stored is the module as it is now, not how it was constructed. Classes must be
`jtorch.nn.Module` subclasses that the loading program can import (or defines in `__main__`).

Modules holding an `nnx.Rngs` (dropout) get a fresh stream forked from the global RNG.
Shared sub-modules and tied parameters stay shared.
"""

from __future__ import annotations

from typing import Any

from flax import nnx

from jtorch import _random
from jtorch._backend import internals
from jtorch.checkpoint._tree import CheckpointError, Decoder, Encoder, lookup_global
from jtorch.nn.module import Buffer, Module, Parameter

__all__ = ["encode_module", "decode_module"]


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def encode_module(enc: Encoder, module: Module, where: str = "model") -> Any:
    """The record of `module` (an int back-reference if it was already recorded)."""
    ref = enc.module_refs.get(id(module))
    if ref is not None:
        return ref
    cls = type(module)
    if "<locals>" in cls.__qualname__:
        raise TypeError(
            f"jtorch.save: cannot save {where} of class {cls.__qualname__}: classes defined "
            "inside a function cannot be found again at load time; define it at module level"
        )
    ref = len(enc.module_refs)
    enc.module_refs[id(module)] = ref
    enc.modules_seen.append(module)
    entries = []
    state = vars(module)
    registered = set(module._jt_params) | set(module._jt_buffers) | set(module._jt_modules)
    for name, value in state.items():
        if internals.is_nnx_bookkeeping(name) or name.startswith("_jt_") or name in registered:
            continue
        path = f"{where}.{name}"
        if isinstance(value, nnx.Rngs):
            entries.append([name, "R"])
        elif isinstance(value, nnx.Variable):
            raise TypeError(
                f"jtorch.save: cannot save {path}: {type(value).__name__} variables are not "
                "supported in full-model saves (use Parameter or a registered buffer)"
            )
        else:
            entries.append([name, "V", enc.encode(value, path)])
    # registered members in registration order, which is state_dict and repr order
    for name in module._jt_params:
        entries.append([name, "P", _encode_variable(enc, state.get(name))])
    for name in module._jt_buffers:
        persistent = name not in module._jt_nonpersistent
        entries.append([name, "B", _encode_variable(enc, state.get(name)), persistent])
    for name in module._jt_modules:
        child = state.get(name)
        child = None if child is None else encode_module(enc, child, f"{where}.{name}")
        entries.append([name, "M", child])
    return {"ref": ref, "class": _class_path(cls), "entries": entries}


def _encode_variable(enc: Encoder, var: Any) -> Any:
    """`[array index, requires_grad]`, `[array index]` for a repeat, or None for an empty slot."""
    if var is None:
        return None
    index = enc.variable_refs.get(id(var))
    if index is not None:
        return [index]
    index = enc.add_array(var)
    enc.variable_refs[id(var)] = index
    requires_grad = bool(var.requires_grad) if isinstance(var, Parameter) else False
    return [index, requires_grad]


def _module_class(path: str) -> type[Module]:
    module, _, qualname = path.partition(":")
    cls = lookup_global(module, qualname, "class")
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise CheckpointError(
            f"refusing to rebuild `{module}.{qualname}`: it is not a jtorch.nn.Module subclass"
        )
    return cls


def _blank(cls: type[Module]) -> Module:
    """An initialised instance of `cls` with no attributes, without calling `cls.__init__`."""
    obj = internals.blank_nnx_object(cls)
    Module.__init__(obj)
    return obj


def decode_module(dec: Decoder, spec: Any) -> Module:
    """Rebuild the module recorded by `encode_module` (arrays come from `dec`)."""
    if isinstance(spec, int):
        if spec not in dec.modules:
            raise CheckpointError(f"malformed checkpoint: module reference {spec} before use")
        return dec.modules[spec]
    obj = _blank(_module_class(spec["class"]))
    dec.modules[spec["ref"]] = obj
    for entry in spec["entries"]:
        name, kind = entry[0], entry[1]
        if kind == "P":
            param = _decode_variable(dec, entry[2], Parameter)
            if param is None:
                obj.register_parameter(name, None)
            else:
                setattr(obj, name, param)
        elif kind == "B":
            buf = _decode_variable(dec, entry[2], Buffer, persistent=entry[3])
            obj.register_buffer(name, buf, persistent=entry[3])
        elif kind == "M":
            child = None if entry[2] is None else decode_module(dec, entry[2])
            if child is None:
                obj.add_module(name, None)
            else:
                setattr(obj, name, child)
        elif kind == "R":
            setattr(obj, name, _random.fork_rngs())
        elif kind == "V":
            setattr(obj, name, dec.decode(entry[2]))
        else:
            raise CheckpointError(f"malformed checkpoint: unknown module entry kind {kind!r}")
    return obj


def _decode_variable(dec: Decoder, node: Any, kind: type, **meta: Any) -> Any:
    if node is None:
        return None
    index = node[0]
    var = dec.variables.get(index)
    if var is None:
        if kind is Parameter:
            var = Parameter(dec.array(index), requires_grad=node[1])
        else:
            var = Buffer(dec.array(index), **meta)
        dec.variables[index] = var
    return var
