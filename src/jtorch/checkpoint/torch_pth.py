"""PyTorch's `.pth`/`.pt`/`.tar` files, read and written without importing torch.

Reading uses a restricted unpickler: the only globals it resolves are torch's tensor-rebuilding
functions, storage and dtype names, `torch.Size`, and plain containers, each mapped to a local
stand-in (storages become numpy buffers, tensors numpy arrays, then jax arrays). Any other
global, e.g. `os.system`, is refused with an error naming it, before anything runs.

Writing mirrors `torch.save`'s zip layout (`ARCHIVE/data.pkl` with persistent ids for storages,
`ARCHIVE/data/N` raw little-endian bytes aligned to 64, `.format_version`, `.storage_alignment`,
`byteorder`, `version`), pickled at protocol 2 with the same globals, so
`torch.load(path, weights_only=True)` reads it. The zip is written by `_zip` (CRCs computed in a
worker thread during the writes) into a temporary file renamed over `path`; the replaced file is
removed in a background thread. Durability is torch.save's: no fsync, so a killed process leaves
the old or the new file, but a power cut right after a save may leave neither.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import threading
import uuid
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import jax
import ml_dtypes
import numpy as np

from jtorch.checkpoint._buffers import aligned_empty
from jtorch.checkpoint._tree import CheckpointError, as_numpy_or_jax, is_array
from jtorch.checkpoint._zip import Record, write_stored_zip

__all__ = ["save_pth", "load_pth", "wait_for_background_unlinks"]

_STORAGES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
    "ComplexFloatStorage": np.complex64,
    "ComplexDoubleStorage": np.complex128,
}
_STORAGE_OF = {np.dtype(v): k for k, v in _STORAGES.items()}
_TORCH_DTYPES = {
    "float64": np.float64, "double": np.float64, "float32": np.float32, "float": np.float32,
    "float16": np.float16, "half": np.float16, "bfloat16": ml_dtypes.bfloat16,
    "int64": np.int64, "long": np.int64, "int32": np.int32, "int": np.int32,
    "int16": np.int16, "short": np.int16, "int8": np.int8, "uint8": np.uint8,
    "bool": np.bool_, "complex64": np.complex64, "complex128": np.complex128,
}  # fmt: skip
_ALIGNMENT = 64


# ---------------------------------------------------------------------------------- reading


class _StorageType:
    """Stand-in for `torch.FloatStorage` etc.: just the element dtype."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)


def _rebuild_tensor(storage: np.ndarray, offset: int, size: Any, stride: Any) -> np.ndarray:
    size, stride = tuple(size), tuple(stride)
    count = int(np.prod(size)) if size else 1
    if count == 0:
        return np.empty(size, storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if offset < 0 or last >= storage.size:
        raise CheckpointError("a tensor in the file points outside its storage (damaged file?)")
    contiguous = tuple(int(np.prod(size[i + 1 :])) for i in range(len(size)))
    if stride == contiguous:  # the common case: no strided copy (device_put copies once)
        return storage[offset : offset + count].reshape(size)
    item = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=[s * item for s in stride], writeable=False
    )
    return np.array(view)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, meta=None):
    return _rebuild_tensor(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad=True, hooks=None, state=None):
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    return func(*args)


def _encode_latin1(text: str, encoding: str = "latin1") -> bytes:
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _device(kind: str, index: int | None = None) -> str:
    return kind if index is None else f"{kind}:{index}"


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
        ("torch", "Tensor"): "Tensor",
        ("torch.nn.parameter", "Parameter"): "Parameter",
        ("torch", "Size"): tuple,
        ("torch", "device"): _device,
        ("torch", "UntypedStorage"): _StorageType(np.uint8),
        ("torch.storage", "UntypedStorage"): _StorageType(np.uint8),
        ("collections", "OrderedDict"): OrderedDict,
        ("collections", "Counter"): collections.Counter,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "complex"): complex,
        ("_codecs", "encode"): _encode_latin1,
    }
    for name, dtype in _STORAGES.items():
        allowed["torch", name] = _StorageType(dtype)
    for name, dtype in _TORCH_DTYPES.items():
        allowed["torch", name] = np.dtype(dtype)
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, read_storage: Any, source: str) -> None:
        super().__init__(file)
        self._read_storage = read_storage
        self._source = source
        self._allowed = _allowed_globals()
        self._storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str) -> Any:
        found = self._allowed.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(
                f"refusing to load {self._source}: it references the global `{module}.{name}`, "
                "which is not a tensor-rebuilding function or plain container (only weights "
                "are loaded; nothing in the file was run)"
            )
        return found

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"{self._source}: unsupported persistent id {pid!r}")
        _, storage_type, key, _location, _numel = pid
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"{self._source}: bad storage type {storage_type!r}")
        key = str(key)
        if key not in self._storages:
            raw = self._read_storage(key)
            if raw.size % storage_type.dtype.itemsize:
                raise CheckpointError(f"{self._source}: storage {key} has a partial element")
            self._storages[key] = raw.view(storage_type.dtype)
        return self._storages[key]


def _to_jax(obj: Any, target: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return jax.device_put(obj, target)
    if isinstance(obj, OrderedDict):
        return OrderedDict((k, _to_jax(v, target)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _to_jax(v, target) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_jax(v, target) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_to_jax(v, target) for v in obj)
    return obj


def _read_record(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """A stored (uncompressed) record's bytes, read straight into an aligned buffer.

    Like torch.load, this skips zipfile's CRC check and the extra copy of `zf.read`; a
    compressed record (not written by torch) goes through zipfile."""
    if info.compress_type != zipfile.ZIP_STORED:
        return np.frombuffer(zf.read(info), np.uint8)
    fp = zf.fp
    fp.seek(info.header_offset)
    header = fp.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise CheckpointError(f"jtorch.load: {zf.filename}: bad local header for {info.filename}")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    fp.seek(info.header_offset + 30 + name_len + extra_len)
    out = aligned_empty((info.file_size,), np.uint8)
    if fp.readinto(memoryview(out)) != info.file_size:
        raise CheckpointError(f"jtorch.load: {zf.filename}: record {info.filename} is truncated")
    return out


def load_pth(path: str | os.PathLike, target: Any, verify: bool = False) -> Any:
    """Read a torch.save file (zip format) into jax arrays on `target`; torch is not imported."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"jtorch.load: no such file: {path}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"jtorch.load: {path} is not a PyTorch zip checkpoint (legacy pre-1.6 files and "
            "other formats are not supported; re-save it with a current torch.save)"
        )
    try:
        with zipfile.ZipFile(path) as zf:
            pickles = [n for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") <= 1]
            if len(pickles) != 1:
                raise CheckpointError(f"jtorch.load: {path} has no single data.pkl record")
            prefix = pickles[0][: -len("data.pkl")]
            names = set(zf.namelist())
            if prefix + "byteorder" in names and zf.read(prefix + "byteorder") != b"little":
                raise CheckpointError(f"jtorch.load: {path} holds big-endian data")

            def read_storage(key: str) -> np.ndarray:
                name = f"{prefix}data/{key}"
                if name not in names:
                    raise CheckpointError(f"jtorch.load: {path} lacks the record {name}")
                return _read_record(zf, zf.getinfo(name))

            data = io.BytesIO(zf.read(pickles[0]))
            result = _RestrictedUnpickler(data, read_storage, str(path)).load()
    except (pickle.UnpicklingError, CheckpointError):
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError, struct.error) as err:
        raise CheckpointError(f"jtorch.load: {path} is damaged: {err}") from err
    return _to_jax(result, target)


# ---------------------------------------------------------------------------------- writing


class _Global:
    """A global written by name (`torch._utils._rebuild_tensor_v2`) without importing it."""

    _instances: dict[tuple[str, str], _Global] = {}

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    @classmethod
    def get(cls, module: str, name: str) -> _Global:
        key = (module, name)
        if key not in cls._instances:
            cls._instances[key] = cls(module, name)
        return cls._instances[key]

    def __call__(self, *args: Any) -> Any:  # pickle wants reduce functions to be callable
        raise TypeError(f"{self.module}.{self.name} is only a name to write into a pickle")


class _Storage:
    def __init__(self, key: str, array: np.ndarray) -> None:
        self.key, self.array = key, array


class _Tensor:
    def __init__(self, storage: _Storage) -> None:
        self.storage = storage

    def __reduce_ex__(self, protocol: int) -> Any:
        array = self.storage.array
        shape = tuple(int(n) for n in array.shape)
        stride = tuple(int(s) // array.dtype.itemsize for s in array.strides)
        rebuild = _Global.get("torch._utils", "_rebuild_tensor_v2")
        return rebuild, (self.storage, 0, shape, stride, False, OrderedDict())


class _Pickler(pickle._Pickler):  # the Python pickler lets `save` intercept globals
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _Storage):
            storage_type = _Global.get("torch", _STORAGE_OF[obj.array.dtype])
            return ("storage", storage_type, obj.key, "cpu", int(obj.array.size))
        return None

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        if isinstance(obj, _Global):
            memoized = self.memo.get(id(obj))
            if memoized is not None:
                self.write(self.get(memoized[0]))
                return
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            self.memoize(obj)
            return
        super().save(obj, save_persistent_id)


def _prepare(obj: Any, storages: dict[int, _Storage], where: str) -> Any:
    """Replace arrays by `_Tensor`s (one storage per distinct array) and check other values."""
    from jtorch.nn.module import Module

    if isinstance(obj, Module):
        raise TypeError(
            f"jtorch.save: cannot write the full model {where} to a .pth file (torch would need "
            "jtorch's classes); save `model.state_dict()` to .pth, or the model to an Orbax "
            "directory (a path without suffix)"
        )
    if is_array(obj):
        key = id(obj)
        if key not in storages:
            array = np.asarray(as_numpy_or_jax(obj), order="C")
            if array.dtype not in _STORAGE_OF:
                raise TypeError(f"jtorch.save: {where} has dtype {array.dtype}, which torch lacks")
            storages[key] = _Storage(str(len(storages)), array)
        return _Tensor(storages[key])
    if isinstance(obj, OrderedDict):
        return OrderedDict((k, _prepare(v, storages, f"{where}[{k!r}]")) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _prepare(v, storages, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [_prepare(v, storages, f"{where}[{i}]") for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    if obj is None or isinstance(obj, (bool, int, float, str, bytes, complex)):
        return obj
    if callable(getattr(obj, "state_dict", None)):
        return _prepare(obj.state_dict(), storages, where)
    raise TypeError(
        f"jtorch.save: cannot write {where} of type {type(obj).__name__} to a .pth file "
        "(supported: arrays, dict/list/tuple, int/float/str/bool/None/bytes)"
    )


def _records(archive: str, pickled: bytes, storages: dict[int, _Storage]) -> list[Record]:
    """The archive members, in torch.save's order (storage data 64-byte aligned)."""
    records = [
        Record(f"{archive}/data.pkl", pickled),
        Record(f"{archive}/.format_version", b"1"),
        Record(f"{archive}/.storage_alignment", str(_ALIGNMENT).encode()),
        Record(f"{archive}/byteorder", b"little"),
    ]
    for storage in storages.values():
        data = storage.array.reshape(-1).view(np.uint8)
        records.append(Record(f"{archive}/data/{storage.key}", data, align=True))
    records.append(Record(f"{archive}/version", b"3\n"))
    records.append(Record(f"{archive}/.data/serialization_id", uuid.uuid4().hex.encode()))
    return records


def _old_links(path: Path) -> list[Path]:
    prefix = f".{path.name}.jtorch-old-"
    return [p for p in path.parent.iterdir() if p.name.startswith(prefix)]


_unlinkers: list[threading.Thread] = []


def wait_for_background_unlinks() -> None:
    """Block until the replaced files of earlier saves are removed (tests and benchmarks)."""
    while _unlinkers:
        _unlinkers.pop().join()


def _replace(tmp: Path, path: Path) -> None:
    """`os.replace(tmp, path)`, with the replaced file's blocks freed in a background thread.

    Renaming over a file frees its blocks inside the rename (about 0.2 s for 400 MB; torch.save
    pays the same when it truncates its old file). A second hard link to the old file keeps the
    rename cheap, and a (non-daemon) thread removes that link. Readers see the old or the new
    file at `path` throughout; a crash leaves at most a `.NAME.jtorch-old-*` link, which the
    next save to `path` removes."""
    old = path.parent / f".{path.name}.jtorch-old-{uuid.uuid4().hex[:12]}"
    try:
        os.link(path, old)
    except OSError:  # nothing to replace, or no hard links on this filesystem
        os.replace(tmp, path)
        return
    try:
        os.replace(tmp, path)
    finally:
        _unlinkers[:] = [t for t in _unlinkers if t.is_alive()]
        thread = threading.Thread(
            target=old.unlink, kwargs={"missing_ok": True}, name="jtorch-unlink-old"
        )
        thread.start()
        _unlinkers.append(thread)


def save_pth(obj: Any, path: str | os.PathLike) -> None:
    """Write `obj` as torch.save would (zip format), replacing `path` atomically.

    Not fsynced (torch.save's durability): safe against a killed process, not a power cut."""
    path = Path(path)
    storages: dict[int, _Storage] = {}
    prepared = _prepare(obj, storages, "obj")
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=2).dump(prepared)
    records = _records(path.stem or "archive", buffer.getvalue(), storages)
    tmp = path.parent / f".{path.name}.jtorch-tmp-{uuid.uuid4().hex[:12]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in _old_links(path):  # from a process that died before removing it
        leftover.unlink(missing_ok=True)
    try:
        with open(tmp, "wb") as f:
            write_stored_zip(f, records, _ALIGNMENT)
        _replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
