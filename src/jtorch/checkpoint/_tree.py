"""Split a Python object into a JSON skeleton plus a flat list of arrays, and join them back.

Every saved object goes through here: state_dicts, nested checkpoint dicts, optimizer states and
full models. The skeleton keeps what pickle would keep for plain data (key order, int vs float,
tuple vs list, dict vs OrderedDict, None, bools, strings) as tagged JSON, so nothing is ever
unpickled. Arrays are stored elsewhere (Orbax, a zip, safetensors) and referenced by index.

Node forms: `null`, `true`/`false`, JSON ints and strings stand for themselves; everything else is
a list whose first item is a tag: `["a", i]` array i, `["f", "1.5"]` float, `["l", [...]]` list,
`["t", [...]]` tuple, `["d", [[k, v], ...]]` dict, `["o", ...]` OrderedDict, `["b", base64]`
bytes, `["c", re, im]` complex, `["m", spec]` full module, `["g", module, qualname]` an allowed
function or Module class (resolved by `_trust`'s rules), `["dev", "cuda:0"]` a jtorch.device.
"""

from __future__ import annotations

import base64
import sys
from collections import OrderedDict
from typing import Any

import jax
import numpy as np
from flax import nnx

from jtorch._device import device as _device_cls
from jtorch._device import resolve_device
from jtorch.checkpoint._errors import CheckpointError
from jtorch.checkpoint._trust import Trust, function_allowed

__all__ = ["CheckpointError", "Decoder", "Encoder", "is_array", "placement"]


def is_array(value: Any) -> bool:
    """True for jax/numpy arrays, numpy scalars, Parameters/Buffers and torch tensors."""
    if isinstance(value, (jax.Array, np.ndarray, np.generic, nnx.Variable)):
        return not isinstance(value, nnx.Variable) or _variable_holds_array(value)
    return type(value).__module__.startswith("torch") and type(value).__name__ in (
        "Tensor",
        "Parameter",
    )


def _variable_holds_array(var: nnx.Variable) -> bool:
    return isinstance(var.get_value(), (jax.Array, np.ndarray))


def as_numpy_or_jax(value: Any, where: str = "array") -> Any:
    """The array inside `value` as a jax or numpy array this process holds whole (torch tensors
    become numpy, no copy; `where` names it in errors)."""
    if isinstance(value, nnx.Variable):
        value = value.get_value()
    if isinstance(value, jax.Array):
        return _process_local(value, where)
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, np.generic):
        return np.asarray(value)
    tensor = value.detach().cpu()
    if str(tensor.dtype) == "torch.bfloat16":
        import ml_dtypes

        int16 = sys.modules["torch"].int16
        return tensor.view(dtype=int16).numpy().view(ml_dtypes.bfloat16)
    return tensor.numpy()


def _process_local(array: jax.Array, where: str) -> jax.Array:
    """`array`, or in a job of several processes its local replica (DDP's parameters are
    replicated over every process, and torch saves them from one rank); an array split over
    processes is refused: no process holds it whole."""
    if array.is_fully_addressable:
        return array
    if array.is_fully_replicated:
        return array.addressable_data(0)
    raise ValueError(
        f"jtorch.save: {where} (shape {tuple(array.shape)}) is split over several processes "
        f"({array.sharding}); this process holds only its shards: save it from every process "
        "with jtorch.distributed.checkpoint.save, or collect it with "
        "jtorch.distributed.checkpoint.gather first"
    )


def _global_path(obj: Any) -> tuple[str, str]:
    return obj.__module__, obj.__qualname__


class Encoder:
    """Turns an object into a skeleton, appending its arrays to `self.arrays`."""

    def __init__(self, keep_global: bool = False) -> None:
        self.arrays: list[Any] = []
        self.module_refs: dict[int, int] = {}
        self.variable_refs: dict[int, int] = {}
        self.modules_seen: list[Any] = []  # keeps ids valid while encoding
        # keep arrays that span processes as they are (a writer that every process joins),
        # instead of this process's replica (a single-writer file)
        self.keep_global = keep_global

    def add_array(self, value: Any) -> int:
        if isinstance(value, nnx.Variable):
            value = value.get_value()
        global_array = isinstance(value, jax.Array) and not value.is_fully_addressable
        self.arrays.append(value if self.keep_global and global_array else as_numpy_or_jax(value))
        return len(self.arrays) - 1

    def encode(self, obj: Any, where: str = "obj") -> Any:
        from jtorch.checkpoint.full_model import encode_module
        from jtorch.nn.module import Module

        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if type(obj) is int or (isinstance(obj, int) and not isinstance(obj, bool)):
            return int(obj)
        if isinstance(obj, float):
            return ["f", repr(float(obj))]
        if isinstance(obj, complex):
            return ["c", repr(obj.real), repr(obj.imag)]
        if isinstance(obj, (bytes, bytearray)):
            return ["b", base64.b64encode(bytes(obj)).decode("ascii")]
        if isinstance(obj, Module):
            return ["m", encode_module(self, obj, where)]
        if is_array(obj):
            return ["a", self.add_array(obj)]
        if isinstance(obj, _device_cls):
            return ["dev", str(obj)]
        if isinstance(obj, dict):
            tag = "o" if isinstance(obj, OrderedDict) else "d"
            return [
                tag,
                [
                    [self.encode(k, f"{where} key"), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in obj.items()
                ],
            ]
        if isinstance(obj, (list, tuple)):
            tag = "t" if isinstance(obj, tuple) else "l"
            return [tag, [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]]
        if callable(getattr(obj, "state_dict", None)) and not isinstance(obj, type):
            # optimizers and lr schedulers are saved as their torch-format state_dict
            return self.encode(obj.state_dict(), where)
        if (
            isinstance(obj, type)
            and issubclass(obj, Module)
            or (callable(obj) and hasattr(obj, "__qualname__") and hasattr(obj, "__module__"))
        ):
            module, qualname = _global_path(obj)
            if not (isinstance(obj, type) and issubclass(obj, Module)) and not function_allowed(
                obj
            ):
                raise TypeError(
                    f"jtorch.save: cannot save {where} = {module}.{qualname}: only Module classes, "
                    "activation-like functions (jtorch.nn.functional, jax.nn) and functions "
                    "allowed with jtorch.checkpoint.add_safe_globals are stored by name"
                )
            return ["g", module, qualname]
        raise TypeError(
            f"jtorch.save: cannot save {where} of type {type(obj).__module__}."
            f"{type(obj).__qualname__}; supported: arrays, Modules, optimizers/schedulers, "
            "dict/list/tuple and int/float/str/bool/None/bytes"
        )


class Decoder:
    """Rebuilds an object from a skeleton and the arrays it references."""

    def __init__(self, arrays: Any, trust: Trust | None = None, resolve: bool = True) -> None:
        self.arrays = arrays  # list or dict indexable by int
        self.trust = trust if trust is not None else Trust()
        # resolve=False: full models become `ModuleRecord`s and names stay names (no lookups)
        self.resolve = resolve
        self.modules: dict[int, Any] = {}
        self.variables: dict[int, Any] = {}

    def array(self, index: Any) -> Any:
        if type(index) is not int or not 0 <= index < len(self.arrays):
            raise CheckpointError(f"malformed checkpoint: array reference {index!r} out of range")
        return self.arrays[index]

    def decode_root(self, node: Any, source: Any) -> Any:
        """`decode(node)`, with a damaged skeleton reported as a CheckpointError naming `source`."""
        try:
            return self.decode(node)
        except CheckpointError as err:
            raise CheckpointError(f"jtorch.load: {source}: {err}") from err
        except (TypeError, ValueError, IndexError, KeyError, AttributeError, RecursionError) as err:
            raise CheckpointError(
                f"jtorch.load: {source}: malformed checkpoint structure ({type(err).__name__}: "
                f"{err})"
            ) from err

    def decode(self, node: Any) -> Any:
        from jtorch.checkpoint.full_model import decode_module

        if node is None or isinstance(node, (bool, int, str)):
            return node
        if not isinstance(node, list) or not node:
            raise CheckpointError(f"malformed checkpoint structure near {node!r}")
        tag = node[0]
        if tag == "a":
            return self.array(node[1])
        if tag == "f":
            return float(node[1])
        if tag in ("l", "t"):
            items = [self.decode(v) for v in node[1]]
            return items if tag == "l" else tuple(items)
        if tag in ("d", "o"):
            items = [(self.decode(k), self.decode(v)) for k, v in node[1]]
            return OrderedDict(items) if tag == "o" else dict(items)
        if tag == "m":
            return decode_module(self, node[1])
        if tag == "c":
            return complex(float(node[1]), float(node[2]))
        if tag == "b":
            return base64.b64decode(node[1])
        if tag == "dev":
            return _device_cls(node[1])
        if tag == "g" and len(node) == 3:
            if not self.resolve:
                return f"{node[1]}.{node[2]}"
            return self.trust.resolve(node[1], node[2], "global")
        raise CheckpointError(f"malformed checkpoint structure: unknown tag {tag!r}")


def placement(map_location: Any) -> Any:
    """The jax Device or Sharding that `map_location` names (None: this process's first device,
    JAX's default device in a one-process job)."""
    if map_location is None:
        return jax.local_devices()[0]
    if isinstance(map_location, jax.sharding.Sharding):
        return map_location
    if isinstance(map_location, (str, _device_cls, jax.Device)):
        return resolve_device(map_location)
    raise TypeError(
        "jtorch.load: `map_location` must be None, 'cpu', 'cuda', 'cuda:N', a jtorch.device, a "
        f"jax.Device or a jax.sharding.Sharding, got {type(map_location).__name__}"
    )


def place(array: Any, target: Any) -> jax.Array:
    """`array` (numpy or jax) as a jax array on `target` (a Device or Sharding)."""
    return jax.device_put(array, target)
