"""PyTorch's `.pth`/`.pt`/`.tar` files, read and written without importing torch.

Reading uses jtorch's restricted unpickler (`_unpickler`): the only globals it resolves are
torch's tensor-rebuilding functions, storage and dtype names, `torch.Size`, and plain containers,
each mapped to a sealed local stand-in (storages become numpy buffers, tensors numpy arrays, then
jax arrays); any other global, e.g. `os.system`, is refused before anything runs, and no
state-setting opcode can reach the stand-ins. Every tensor's reachable elements (any strides,
negative and zero included, and its offset) are checked against its storage before it is read,
records are read only within the file, and memory is bounded by the file's size (see
_MAX_AMPLIFICATION). Every error is a CheckpointError naming the file and the record.

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
import zlib
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import ml_dtypes
import numpy as np

from jtorch.checkpoint._bounds import AMPLIFICATION_SLACK as _AMPLIFICATION_SLACK
from jtorch.checkpoint._bounds import MAX_AMPLIFICATION as _MAX_AMPLIFICATION
from jtorch.checkpoint._buffers import aligned_empty
from jtorch.checkpoint._leftovers import sweep, temp_name
from jtorch.checkpoint._tree import CheckpointError, as_numpy_or_jax, is_array
from jtorch.checkpoint._unpickler import Sealed, SealedFunction, unpickle
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

# A tensor may be larger than the storage bytes it reads (stride 0, overlapping strides) by at most
# _MAX_AMPLIFICATION over the whole file (plus _AMPLIFICATION_SLACK bytes), and a compressed record
# may declare at most that many times its compressed size: memory stays bounded by the file's size.


class _StorageType(Sealed):
    """Stand-in for `torch.FloatStorage` etc.: just the element dtype."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)


class _DType(Sealed):
    """Stand-in for `torch.float32` etc."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)


class _Marker(Sealed):
    """Stand-in for a class the pickle only names (`torch.Tensor`, `torch.nn.Parameter`)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _LoadedStorage(Sealed):
    """A storage read from record `name`: its elements as a flat numpy array."""

    __slots__ = ("array", "name")

    def __init__(self, array: np.ndarray, name: str) -> None:
        self.array, self.name = array, name


class _LoadedTensor(Sealed):
    """A tensor rebuilt from a storage (made a jax array once the pickle is read)."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


def _int(value: Any, what: str) -> int:
    if type(value) is not int:
        raise CheckpointError(f"{what} is {value!r}, expected an int")
    return value


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)):
        raise CheckpointError(f"{what} is {value!r}, expected a tuple of ints")
    return tuple(_int(v, what) for v in value)


def _encode_latin1(text: str, encoding: str = "latin1") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise CheckpointError(f"refusing _codecs.encode of {type(text).__name__} as {encoding!r}")
    return text.encode("latin1")


def _device(kind: str, index: int | None = None) -> str:
    return f"{kind}" if index is None else f"{kind}:{_int(index, 'a device index')}"


def _plain(function: Any, *types: type) -> Callable[..., Any]:
    """`function` restricted to arguments of `types` (e.g. `set` of a list)."""

    def call(*args: Any) -> Any:
        if not all(isinstance(a, types) for a in args):
            raise CheckpointError(f"{function.__name__} called with {[type(a) for a in args]}")
        return function(*args)

    return call


class _Reader:
    """The state of reading one .pth file: its zip, the storages read so far and the bytes of
    tensor data handed out (for the amplification bound)."""

    def __init__(self, zf: zipfile.ZipFile, path: Path, prefix: str, verify: bool) -> None:
        self.zf, self.path, self.prefix, self.verify = zf, path, prefix, verify
        self.file_size = path.stat().st_size
        self.names = {info.filename: info for info in zf.infolist()}
        self.storages: dict[str, _LoadedStorage] = {}
        self.storage_bytes = 0
        self.tensor_bytes = 0

    def fail(self, message: str) -> CheckpointError:
        return CheckpointError(f"jtorch.load: {self.path}: {message}")

    # records ------------------------------------------------------------------------------
    def record(self, name: str, check_crc: bool) -> np.ndarray:
        """The bytes of record `name`, bounded by the file's size (an aligned buffer)."""
        info = self.names.get(name)
        if info is None:
            raise self.fail(f"lacks the record {name}")
        fp = self.zf.fp
        fp.seek(info.header_offset)
        header = fp.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise self.fail(f"bad local header for record {name}")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        if start + info.compress_size > self.file_size:
            raise self.fail(f"record {name} extends past the end of the file (truncated?)")
        if info.compress_type == zipfile.ZIP_STORED:
            if info.file_size != info.compress_size:
                raise self.fail(f"stored record {name} declares two different sizes")
            out = aligned_empty((info.file_size,), np.uint8)
            fp.seek(start)
            if fp.readinto(memoryview(out)) != info.file_size:
                raise self.fail(f"record {name} is truncated")
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            out = self._inflate(info, start)
        else:
            raise self.fail(f"record {name} uses zip compression method {info.compress_type}")
        if check_crc and zlib.crc32(out) != info.CRC:
            raise self.fail(f"record {name} fails its CRC-32 check (damaged file)")
        return out

    def _inflate(self, info: zipfile.ZipInfo, start: int) -> np.ndarray:
        """A deflated record, refused before inflating if it declares more than
        _MAX_AMPLIFICATION times its compressed size, and if it inflates past what it declares."""
        name = info.filename
        if info.file_size > _MAX_AMPLIFICATION * info.compress_size + _AMPLIFICATION_SLACK:
            raise self.fail(
                f"compressed record {name} declares {info.file_size} bytes from "
                f"{info.compress_size} (more than {_MAX_AMPLIFICATION}x; refused)"
            )
        fp = self.zf.fp
        fp.seek(start)
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        data = inflater.decompress(fp.read(info.compress_size), info.file_size)
        if inflater.unconsumed_tail or not inflater.eof:
            raise self.fail(f"compressed record {name} inflates past its declared size")
        if len(data) != info.file_size:
            raise self.fail(f"compressed record {name} is shorter than it declares")
        out = aligned_empty((len(data),), np.uint8)
        out[:] = np.frombuffer(data, np.uint8)
        return out

    # pickle globals -----------------------------------------------------------------------
    def persistent_load(self, pid: Any) -> _LoadedStorage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise self.fail(f"unsupported persistent id {pid!r}")
        _, storage_type, key, _location, _numel = pid
        if not isinstance(storage_type, _StorageType):
            raise self.fail(f"bad storage type {storage_type!r}")
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise self.fail(f"bad storage key {key!r}")
        name = f"{self.prefix}data/{key}"
        storage = self.storages.get(name)
        if storage is None:
            raw = self.record(name, check_crc=self.verify)
            if raw.size % storage_type.dtype.itemsize:
                raise self.fail(f"storage record {name} holds a partial element")
            storage = _LoadedStorage(raw.view(storage_type.dtype), name)
            self.storages[name] = storage
            self.storage_bytes += raw.size
        elif storage.array.dtype != storage_type.dtype:
            raise self.fail(f"storage record {name} is used with two dtypes")
        return storage

    def rebuild_tensor(self, storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> Any:
        """torch._utils._rebuild_tensor(_v2): a view of `storage`, every element it reaches
        checked to lie inside the storage before anything is read."""
        if not isinstance(storage, _LoadedStorage):
            raise self.fail(f"a tensor's storage argument is {storage!r}, not a storage")
        where = f"tensor on record {storage.name}"
        offset = _int(offset, f"{where}: storage offset")
        size = _ints(size, f"{where}: size")
        stride = _ints(stride, f"{where}: stride")
        if len(size) != len(stride) or any(n < 0 for n in size):
            raise self.fail(f"{where}: bad size {size} / stride {stride}")
        array = storage.array
        count = 1
        for n in size:
            count *= n
        if count == 0:
            return _LoadedTensor(np.empty(size, array.dtype))
        low = offset + sum((n - 1) * s for n, s in zip(size, stride) if s < 0)
        high = offset + sum((n - 1) * s for n, s in zip(size, stride) if s > 0)
        if offset < 0 or low < 0 or high >= array.size:
            raise self.fail(
                f"{where}: size {size}, stride {stride}, offset {offset} reach elements "
                f"{low}..{high} of a storage of {array.size} (damaged or hostile file)"
            )
        self.tensor_bytes += count * array.dtype.itemsize
        if self.tensor_bytes > _MAX_AMPLIFICATION * self.storage_bytes + _AMPLIFICATION_SLACK:
            raise self.fail(
                f"{where}: its tensors would take {self.tensor_bytes} bytes from "
                f"{self.storage_bytes} bytes of storage (more than {_MAX_AMPLIFICATION}x, e.g. a "
                "stride-0 broadcast; refused)"
            )
        contiguous, step = [], 1
        for n in reversed(size):
            contiguous.append(step)
            step *= n
        if stride == tuple(
            reversed(contiguous)
        ):  # the common case: no strided copy (device_put copies once)
            return _LoadedTensor(array[offset : offset + count].reshape(size))
        item = array.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            array[offset:], shape=size, strides=[s * item for s in stride], writeable=False
        )
        return _LoadedTensor(np.array(view))

    def rebuild_parameter(self, data: Any, *_: Any) -> _LoadedTensor:
        if not isinstance(data, _LoadedTensor):
            raise self.fail(f"a Parameter's data is {data!r}, not a tensor")
        return data

    def rebuild_from_type(self, function: Any, new_type: Any, args: Any, _state: Any) -> Any:
        if not (isinstance(function, SealedFunction) and isinstance(new_type, _Marker)):
            raise self.fail("_rebuild_from_type_v2 called with something other than a tensor")
        if not isinstance(args, tuple):
            raise self.fail(f"_rebuild_from_type_v2 arguments are {args!r}, not a tuple")
        return function(*args)

    def allowed(self) -> dict[tuple[str, str], Sealed]:
        def sealed(module: str, name: str, function: Callable[..., Any]) -> tuple:
            return (module, name), SealedFunction(function, f"{module}.{name}")

        allowed: dict[tuple[str, str], Sealed] = dict(
            [
                sealed("torch._utils", "_rebuild_tensor", self.rebuild_tensor),
                sealed("torch._utils", "_rebuild_tensor_v2", self.rebuild_tensor),
                sealed("torch._utils", "_rebuild_parameter", self.rebuild_parameter),
                sealed("torch._utils", "_rebuild_parameter_with_state", self.rebuild_parameter),
                sealed("torch._tensor", "_rebuild_from_type_v2", self.rebuild_from_type),
                sealed("torch", "Size", _plain(tuple, tuple, list)),
                sealed("torch", "device", _device),
                sealed("collections", "OrderedDict", _plain(OrderedDict, list, tuple, dict)),
                sealed("collections", "Counter", _plain(collections.Counter, dict)),
                sealed("builtins", "set", _plain(set, list, tuple)),
                sealed("builtins", "frozenset", _plain(frozenset, list, tuple)),
                sealed("builtins", "complex", _plain(complex, int, float)),
                sealed("_codecs", "encode", _encode_latin1),
            ]
        )
        allowed["torch", "Tensor"] = _Marker("Tensor")
        allowed["torch.nn.parameter", "Parameter"] = _Marker("Parameter")
        allowed["torch", "UntypedStorage"] = _StorageType(np.uint8)
        allowed["torch.storage", "UntypedStorage"] = _StorageType(np.uint8)
        for name, dtype in _STORAGES.items():
            allowed["torch", name] = _StorageType(dtype)
        for name, dtype in _TORCH_DTYPES.items():
            allowed["torch", name] = _DType(dtype)
        return allowed


def _to_jax(obj: Any, target: Any) -> Any:
    if isinstance(obj, _LoadedTensor):
        return jax.device_put(obj.array, target)
    if isinstance(obj, OrderedDict):
        return OrderedDict((k, _to_jax(v, target)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _to_jax(v, target) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_jax(v, target) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_to_jax(v, target) for v in obj)
    if isinstance(obj, _DType):
        return obj.dtype
    if isinstance(obj, _LoadedStorage):
        return jax.device_put(obj.array, target)
    if isinstance(obj, Sealed):
        raise CheckpointError(f"the file holds {obj!r} as a value, not data")
    return obj


def load_pth(path: str | os.PathLike, target: Any, verify: bool = False) -> Any:
    """Read a torch.save file (zip format) into jax arrays on `target`; torch is not imported.

    With `verify=True` every storage record's CRC-32 is checked (torch.load skips this; the
    small records are always checked)."""
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
            reader = _Reader(zf, path, pickles[0][: -len("data.pkl")], verify)
            byteorder = reader.prefix + "byteorder"
            if byteorder in reader.names and bytes(reader.record(byteorder, True)) != b"little":
                raise CheckpointError(f"jtorch.load: {path} holds big-endian data")
            data = memoryview(reader.record(pickles[0], check_crc=True))
            result = unpickle(
                io.BytesIO(data),
                reader.allowed(),
                str(path),
                "a tensor-rebuilding function or plain container (only weights are loaded)",
                reader.persistent_load,
            )
            return _to_jax(result, target)
    except CheckpointError:
        raise
    except RecursionError as err:
        raise CheckpointError(f"jtorch.load: {path} nests containers too deeply") from err
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError, struct.error) as err:
        raise CheckpointError(f"jtorch.load: {path} is damaged: {err}") from err


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
            array = np.asarray(as_numpy_or_jax(obj, where), order="C")
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
    old = temp_name(path, "old")
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
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep(path, ("tmp", "old"))  # what killed saves to `path` left behind
    tmp = temp_name(path, "tmp")
    try:
        with open(tmp, "wb") as f:
            write_stored_zip(f, records, _ALIGNMENT)
        _replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
