"""The safetensors format, read and written directly: an 8-byte little-endian header length, a
JSON header `{name: {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}}`, then the
raw little-endian bytes. Holds a flat `{str: array}` dict only.
"""

from __future__ import annotations

import json
import os
import struct
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import jax
import ml_dtypes
import numpy as np

from jtorch.checkpoint._tree import CheckpointError, as_numpy_or_jax, is_array

__all__ = ["save_safetensors", "load_safetensors"]

_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
    "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2,
    "C64": np.complex64,
}  # fmt: skip
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}
_MAX_HEADER = 100_000_000


def save_safetensors(
    tensors: Any, path: str | os.PathLike, metadata: dict[str, str] | None = None
) -> None:
    """Write a flat `{name: array}` dict (atomically replacing `path`)."""
    if not isinstance(tensors, dict) or not all(
        isinstance(k, str) and is_array(v) for k, v in tensors.items()
    ):
        raise TypeError(
            "jtorch.save: a .safetensors file holds a flat dict of str -> array (a state_dict); "
            f"got {type(tensors).__name__} with other contents; use an Orbax directory or .pth"
        )
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    arrays = []
    offset = 0
    for name, value in tensors.items():
        array = np.asarray(as_numpy_or_jax(value), order="C")
        if array.dtype not in _NAMES:
            raise TypeError(
                f"jtorch.save: {name!r} has dtype {array.dtype}, unknown to safetensors"
            )
        header[name] = {
            "dtype": _NAMES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
        arrays.append(array)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.jtorch-tmp-{uuid.uuid4().hex[:12]}"
    try:
        with open(tmp, "wb") as out:
            out.write(struct.pack("<Q", len(text)))
            out.write(text)
            for array in arrays:
                out.write(memoryview(array.reshape(-1).view(np.uint8)))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_header(path: Path) -> tuple[dict[str, Any], int]:
    """(header dict, offset of the data section) of a safetensors file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"jtorch.load: {path} is too short to be a safetensors file")
        (length,) = struct.unpack("<Q", head)
        if length > min(size - 8, _MAX_HEADER):
            raise CheckpointError(f"jtorch.load: {path} is not a safetensors file (bad header)")
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise CheckpointError(f"jtorch.load: {path} has a malformed header: {err}") from err
    if not isinstance(header, dict):
        raise CheckpointError(f"jtorch.load: {path} has a malformed header")
    return header, 8 + length


def load_safetensors(path: str | os.PathLike, target: Any) -> OrderedDict[str, Any]:
    """Read every tensor (in file order) as jax arrays on `target`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"jtorch.load: no such file: {path}")
    header, start = read_header(path)
    data = np.memmap(path, dtype=np.uint8, mode="r") if path.stat().st_size > start else None
    out: OrderedDict[str, Any] = OrderedDict()
    entries = [(k, v) for k, v in header.items() if k != "__metadata__"]
    entries.sort(key=lambda kv: kv[1]["data_offsets"][0] if isinstance(kv[1], dict) else 0)
    for name, info in entries:
        try:
            dtype = np.dtype(_DTYPES[info["dtype"]])
            shape = tuple(int(n) for n in info["shape"])
            begin, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"jtorch.load: {path}: bad entry for {name!r}: {err}") from err
        count = int(np.prod(shape)) if shape else 1
        if end - begin != count * dtype.itemsize or start + end > path.stat().st_size:
            raise CheckpointError(f"jtorch.load: {path}: {name!r} is truncated or inconsistent")
        raw = data[start + begin : start + end] if count else np.empty(0, np.uint8)
        out[name] = jax.device_put(np.asarray(raw).view(dtype).reshape(shape), target)
    return out
