"""Full-model saves: a module tree recorded as class paths, plain attributes and arrays.

For every module the record holds its class (`module` + `qualname`), and, in attribute order,
each parameter, buffer (with its `persistent` flag), child module (or empty slot) and plain
attribute (ints, floats, strings, bools, None, tuples/lists/dicts of them, allowed functions).
Rebuilding never calls the user's `__init__` and never unpickles anything: it creates the object
with `cls.__new__(cls)`, runs `Module.__init__`, and sets the recorded attributes in order. That
reproduces model surgery (`classifier[6] = nn.Linear(4096, 10)`, `add_module(...)`) exactly,
because what is stored is the module as it is now, not how it was constructed. Classes resolve by
`_trust`'s rules: `jtorch.nn.Module` subclasses of modules the loading program has imported (or
`__main__`), of jtorch itself, or that the caller trusts explicitly; nothing is imported for the
file. A recorded attribute may not shadow anything its class defines (methods, properties,
descriptors such as `extra_repr`).

Modules holding an `nnx.Rngs` (dropout) get their saved streams back (key and count), so a
reloaded model draws the same dropout masks as the saved one would have; records written before
streams were saved get a fresh stream forked from the global RNG.
Shared sub-modules and tied parameters stay shared.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from jtorch import _random
from jtorch._backend import internals
from jtorch.checkpoint._tree import CheckpointError, Decoder, Encoder
from jtorch.nn.module import Buffer, Module, Parameter

__all__ = ["encode_module", "decode_module", "ModuleRecord"]

_MISSING = object()


class ModuleRecord(NamedTuple):
    """A full model as recorded, read without resolving its classes (`jtorch ckpt inspect`):
    the stored class path and the arrays its `state_dict()` would hold."""

    class_path: str
    state: OrderedDict

    def state_dict(self) -> OrderedDict:
        return self.state


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def encode_module(enc: Encoder, module: Module, where: str = "model") -> Any:
    """The record of `module` (an int back-reference if it was already recorded)."""
    ref = enc.module_refs.get(id(module))
    if ref is not None:
        return ref
    cls = type(module)
    if not cls.__qualname__.isidentifier():
        raise TypeError(
            f"jtorch.save: cannot save {where} of class {cls.__qualname__}: classes defined "
            "inside a function or another class cannot be found again at load time; define it "
            "at module level"
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
            entries.append([name, "R", _encode_rngs(enc, value)])
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


def _encode_rngs(enc: Encoder, rngs: nnx.Rngs) -> list[Any]:
    """`[[stream name, key-data array index, key impl, count array index], ...]`."""
    streams = []
    for name, stream in vars(rngs).items():
        if isinstance(stream, nnx.RngStream):
            key = stream.key.get_value()
            impl = str(jax.random.key_impl(key))
            data = enc.add_array(jax.random.key_data(key))
            streams.append([name, data, impl, enc.add_array(stream.count.get_value())])
    return streams


def _decode_rngs(dec: Decoder, streams: Any) -> nnx.Rngs:
    keys, counts = {}, {}
    for name, data, impl, count in streams:
        if not (isinstance(name, str) and name.isidentifier() and isinstance(impl, str)):
            raise CheckpointError(f"malformed RNG stream record {[name, impl]!r}")
        keys[name] = jax.random.wrap_key_data(dec.array(data), impl=impl)
        counts[name] = jnp.asarray(dec.array(count), jnp.uint32).reshape(())
    rngs = nnx.Rngs(**keys)
    for name, count in counts.items():
        rngs[name].count.set_value(count)
    return rngs


def _check_entry_name(cls: type, name: Any, kind: str) -> None:
    """Refuse names that would shadow what the class defines or reach Module internals."""
    if not isinstance(name, str) or not name or "." in name:
        raise CheckpointError(f"malformed checkpoint: bad attribute name {name!r}")
    internal = internals.is_nnx_bookkeeping(name) or name.startswith("_jt_")
    if internal or (name.startswith("__") and name.endswith("__")):
        raise CheckpointError(f"refusing to set the internal attribute `{name}`")
    static = inspect.getattr_static(cls, name, _MISSING)
    if static is not _MISSING and (kind != "V" or callable(static) or hasattr(static, "__get__")):
        raise CheckpointError(
            f"refusing to set `{cls.__qualname__}.{name}` from the checkpoint: the class defines "
            f"`{name}` ({type(static).__name__}) and a stored value may not shadow it"
        )


def _module_class(dec: Decoder, path: Any) -> type[Module]:
    if not isinstance(path, str) or ":" not in path:
        raise CheckpointError(f"malformed checkpoint: bad class path {path!r}")
    module, _, qualname = path.partition(":")
    return dec.trust.resolve(module, qualname, "class")


def _blank(cls: type[Module]) -> Module:
    """An initialised instance of `cls` with no attributes, without calling `cls.__init__`."""
    obj = internals.blank_nnx_object(cls)
    Module.__init__(obj)
    return obj


def decode_module(dec: Decoder, spec: Any) -> Any:
    """Rebuild the module recorded by `encode_module` (arrays come from `dec`); a ModuleRecord
    instead when `dec.resolve` is False."""
    if isinstance(spec, int):
        if spec not in dec.modules:
            raise CheckpointError(f"malformed checkpoint: module reference {spec} before use")
        return dec.modules[spec]
    if not dec.resolve:
        return _record(dec, spec)
    cls = _module_class(dec, spec["class"])
    obj = _blank(cls)
    dec.modules[spec["ref"]] = obj
    for entry in spec["entries"]:
        name, kind = entry[0], entry[1]
        _check_entry_name(cls, name, kind)
        if kind == "P":
            param = _decode_variable(dec, entry[2], Parameter)
            if param is None:
                obj.register_parameter(name, None)
            else:
                setattr(obj, name, param)
        elif kind == "B":
            if not isinstance(entry[3], bool):
                raise CheckpointError(f"malformed checkpoint: buffer {name!r} flag {entry[3]!r}")
            buf = _decode_variable(dec, entry[2], Buffer, persistent=entry[3])
            obj.register_buffer(name, buf, persistent=entry[3])
        elif kind == "M":
            child = None if entry[2] is None else decode_module(dec, entry[2])
            if child is not None and not isinstance(child, Module):
                raise CheckpointError(f"malformed checkpoint: child {name!r} is not a module")
            if child is None:
                obj.add_module(name, None)
            else:
                setattr(obj, name, child)
        elif kind == "R":
            # records without saved streams (older jtorch) fork a fresh one, as jtorch did then
            rngs = _decode_rngs(dec, entry[2]) if len(entry) > 2 else _random.fork_rngs()
            setattr(obj, name, rngs)
        elif kind == "V":
            setattr(obj, name, dec.decode(entry[2]))
        else:
            raise CheckpointError(f"malformed checkpoint: unknown module entry kind {kind!r}")
    return obj


def _record(dec: Decoder, spec: Any, prefix: str = "", out: OrderedDict | None = None) -> Any:
    """The ModuleRecord of `spec` (its class path and state_dict arrays), nothing resolved."""
    top = out is None
    out = OrderedDict() if out is None else out
    if isinstance(spec, int):  # a shared module: its arrays are listed under its first name
        return out
    for entry in spec["entries"]:
        name, kind = entry[0], entry[1]
        if kind == "P" and entry[2] is not None:
            out[prefix + name] = dec.array(entry[2][0])
        elif kind == "B" and entry[2] is not None and entry[3]:
            out[prefix + name] = dec.array(entry[2][0])
        elif kind == "M" and entry[2] is not None:
            _record(dec, entry[2], f"{prefix}{name}.", out)
    return ModuleRecord(str(spec["class"]), out) if top else out


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
