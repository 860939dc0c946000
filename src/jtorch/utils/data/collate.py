"""Collation: a list of samples -> one batch, with torch's default_collate structure.

Workers collate into numpy (`_collate_numpy`) so they never touch JAX; the main process turns the
numpy leaves into jax arrays (`_to_jax`) and, when asked, places them on a device or sharding.
"""

from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["default_collate", "default_convert"]

_STR_OBJ_DTYPE = re.compile(r"[SaUO]")
_ERR = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _is_jax_array(x: Any) -> bool:
    return type(x).__module__.startswith("jax") and hasattr(x, "__array__")


def _is_torch_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "numpy")


def _host(x: Any) -> np.ndarray:
    if _is_torch_tensor(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _map_structure(elem: Any, batch: list, leaf: Callable[[list], Any]) -> Any:
    """torch's container recursion: mappings, namedtuples and sequences around `leaf` collation."""
    if isinstance(elem, collections.abc.Mapping):
        out = {key: leaf([d[key] for d in batch]) for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(out)
                return clone
            return type(elem)(out)
        except TypeError:
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(leaf(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))  # tuples, as torch passes them
        if isinstance(elem, tuple):
            return [leaf(s) for s in transposed]  # torch returns a list for tuples
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, s in enumerate(transposed):
                    clone[i] = leaf(s)
                return clone
            return type(elem)([leaf(s) for s in transposed])
        except TypeError:
            return [leaf(s) for s in transposed]
    raise TypeError(_ERR.format(type(elem)))


def _collate_numpy(batch: list) -> Any:
    """default_collate's structure with numpy leaves (float -> float64, int -> int64 as torch)."""
    elem = batch[0]
    if isinstance(elem, np.ndarray) or _is_jax_array(elem) or _is_torch_tensor(elem):
        if isinstance(elem, np.ndarray) and _STR_OBJ_DTYPE.search(elem.dtype.str):
            raise TypeError(_ERR.format(elem.dtype))
        return np.stack([_host(b) for b in batch])
    if isinstance(elem, np.generic):
        if isinstance(elem, (np.str_, np.bytes_)):
            return batch
        return np.asarray(batch)
    if isinstance(elem, bool):
        return np.asarray(batch, dtype=np.bool_)
    if isinstance(elem, int):
        return np.asarray(batch, dtype=np.int64)
    if isinstance(elem, float):
        return np.asarray(batch, dtype=np.float64)
    if isinstance(elem, (str, bytes)):
        return batch
    return _map_structure(elem, batch, _collate_numpy)


def _to_jax(data: Any, placement: Any = None) -> Any:
    """Numpy (and torch) leaves of `data` -> jax arrays on `placement` (device/sharding/None)."""
    import jax

    def convert(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            if _STR_OBJ_DTYPE.search(x.dtype.str):
                return x
            return jax.device_put(x, placement)
        if isinstance(x, np.generic) and not isinstance(x, (np.str_, np.bytes_)):
            return jax.device_put(np.asarray(x), placement)
        if _is_torch_tensor(x):
            return jax.device_put(_host(x), placement)
        if placement is not None and _is_jax_array(x):
            return jax.device_put(x, placement)
        return x

    return jax.tree_util.tree_map(convert, data)


def default_collate(batch: list) -> Any:
    """Stack a list of samples into a batch, recursing into dicts, namedtuples and sequences.

    Arrays (numpy, jax, torch) are stacked on a new first axis, Python ints/floats/bools become
    1-D arrays, strings stay a list; tuples of fields become a list of batched fields, as in torch.
    Differs from torch: leaves are jax arrays, so float64/int64 become float32/int32 unless
    `jax_enable_x64` is set.
    """
    return _to_jax(_collate_numpy(batch))


def _convert_numpy(data: Any) -> Any:
    """default_convert's structure with numpy leaves (arrays and numpy scalars kept)."""
    if isinstance(data, (np.ndarray, np.generic)) or _is_jax_array(data):
        return data
    if _is_torch_tensor(data):
        return _host(data)
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        return (
            type(data)({k: _convert_numpy(v) for k, v in data.items()})
            if isinstance(data, dict)
            else {k: _convert_numpy(v) for k, v in data.items()}
        )
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_convert_numpy(d) for d in data))
    if isinstance(data, tuple):
        return [_convert_numpy(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        try:
            return type(data)([_convert_numpy(d) for d in data])
        except TypeError:
            return [_convert_numpy(d) for d in data]
    return data


def default_convert(data: Any) -> Any:
    """Turn numpy arrays inside `data` into jax arrays, leaving everything else as it is."""
    return _to_jax(_convert_numpy(data))
