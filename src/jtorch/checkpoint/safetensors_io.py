"""The safetensors format, read and written directly: an 8-byte little-endian header length, a
JSON header `{name: {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}}`, then the
raw little-endian bytes. Holds a flat `{str: array}` dict only.
"""

from __future__ import annotations

import json
import os
import struct
from collections import OrderedDict
from pathlib import Path
from typing import Any

import jax
import ml_dtypes
import numpy as np

from jtorch.checkpoint._leftovers import sweep, temp_name
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
        array = np.asarray(as_numpy_or_jax(value, repr(name)), order="C")
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
    sweep(path, ("tmp",))  # what killed saves to `path` left behind
    tmp = temp_name(path, "tmp")
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


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise CheckpointError(
            f"the header repeats the key(s) {sorted({k for k in keys if keys.count(k) > 1})}"
        )
    return dict(pairs)


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
            header = json.loads(f.read(length), object_pairs_hook=_no_duplicates)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise CheckpointError(f"jtorch.load: {path} has a malformed header: {err}") from err
        except CheckpointError as err:
            raise CheckpointError(f"jtorch.load: {path}: {err}") from err
    if not isinstance(header, dict):
        raise CheckpointError(f"jtorch.load: {path} has a malformed header (not a JSON object)")
    return header, 8 + length


def _is_uint(value: Any) -> bool:
    return type(value) is int and value >= 0


def validate_header(header: dict[str, Any], data_size: int, path: Path) -> list[tuple]:
    """`[(name, dtype, shape, begin, end), ...]` in data order, checked as the safetensors library
    checks: required fields present with the right types, known dtypes, non-negative dimensions,
    sizes equal to dtype size x element count, and offsets that tile the data section exactly
    (from 0, contiguous, non-overlapping, ending at the end of the file)."""
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise CheckpointError(f"jtorch.load: {path}: __metadata__ must map strings to strings")
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        where = f"jtorch.load: {path}: tensor {name!r}"
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            fields = sorted(info) if isinstance(info, dict) else type(info).__name__
            raise CheckpointError(
                f"{where} must have exactly the fields dtype, shape, data_offsets (got {fields})"
            )
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise CheckpointError(f"{where} has unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(_is_uint(n) for n in shape):
            raise CheckpointError(f"{where} has shape {shape!r} (expected non-negative ints)")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_uint, offsets))):
            raise CheckpointError(f"{where} has data_offsets {offsets!r} (expected [begin, end])")
        entries.append((name, np.dtype(_DTYPES[dtype]), tuple(shape), offsets[0], offsets[1]))
    entries.sort(key=lambda e: (e[3], e[4]))
    position = 0
    for name, dtype, shape, begin, end in entries:
        where = f"jtorch.load: {path}: tensor {name!r}"
        if begin != position or end < begin:
            raise CheckpointError(
                f"{where} has data_offsets [{begin}, {end}]; expected to start at {position} "
                "(offsets must be contiguous and must not overlap)"
            )
        count = 1
        for n in shape:
            count *= n
        if end - begin != count * dtype.itemsize:
            raise CheckpointError(
                f"{where} holds {end - begin} bytes but dtype {dtype} x shape {list(shape)} "
                f"needs {count * dtype.itemsize}"
            )
        position = end
    if position != data_size:
        raise CheckpointError(
            f"jtorch.load: {path}: the tensors cover {position} bytes of a {data_size}-byte data "
            "section (truncated or padded file)"
        )
    return entries


def load_safetensors(path: str | os.PathLike, target: Any) -> OrderedDict[str, Any]:
    """Read every tensor (in file order) as jax arrays on `target`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"jtorch.load: no such file: {path}")
    header, start = read_header(path)
    size = path.stat().st_size
    entries = validate_header(header, size - start, path)
    data = np.memmap(path, dtype=np.uint8, mode="r") if size > start else None
    out: OrderedDict[str, Any] = OrderedDict()
    for name, dtype, shape, begin, end in entries:
        raw = data[start + begin : start + end] if end > begin else np.empty(0, np.uint8)
        out[name] = jax.device_put(np.asarray(raw).view(dtype).reshape(shape), target)
    return out
