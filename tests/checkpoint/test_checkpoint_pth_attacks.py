"""Hostile `.pth` files, crafted here: out-of-storage strides and offsets, memory amplification
(stride-0 broadcasts, deflate bombs), state-setting opcodes on allowed globals, arguments of the
wrong kind, truncation and damaged bytes. Each must be refused with a CheckpointError naming the
file, before any out-of-bounds read or large allocation (peak traced memory asserted), and leave
the process unchanged."""

import collections
import io
import pickle
import struct
import tracemalloc
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import jtorch
from jtorch.checkpoint import CheckpointError, torch_pth
from jtorch.checkpoint._zip import Record, write_stored_zip
from jtorch.cli import main

_REBUILD = torch_pth._Global.get("torch._utils", "_rebuild_tensor_v2")


class _CraftedTensor:
    """Pickles as torch's `_rebuild_tensor_v2(storage, offset, size, stride, ...)` call."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, OrderedDict())

    def __reduce_ex__(self, protocol):
        return _REBUILD, self.args


def _write_pth(path, pickled, storages=(), compress=False):
    """A zip in torch's layout holding `pickled` as data.pkl and `storages` as data/N."""
    records = [Record("archive/data.pkl", pickled), Record("archive/byteorder", b"little")]
    records += [Record(f"archive/data/{s.key}", s.array.view(np.uint8)) for s in storages]
    if not compress:
        with open(path, "wb") as f:
            write_stored_zip(f, records, 64)
        return
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for record in records:
            zf.writestr(record.name, bytes(memoryview(record.data)))


def _crafted(path, make, elements=4):
    """Write `make(storage)` (a tree holding _CraftedTensors) over a storage of floats."""
    storage = torch_pth._Storage("0", np.arange(elements, dtype=np.float32))
    buffer = io.BytesIO()
    torch_pth._Pickler(buffer, protocol=2).dump(make(storage))
    _write_pth(path, buffer.getvalue(), [storage])
    return path


def _raw_pickle(body):
    """A protocol-2 pickle of hand-written opcodes `body`."""
    return b"\x80\x02" + body + b"."


def _state(obj):
    return pickle.dumps(obj, protocol=2)[2:-1]


TENSOR_ATTACKS = [
    ("negative stride reads before the storage", (0, (4,), (-1000,)), "reach elements"),
    ("huge negative stride", (3, (4,), (-(2**40),)), "reach elements"),
    ("huge positive stride", (0, (2, 2), (2**40, 1)), "reach elements"),
    ("offset past the storage", (4, (1,), (1,)), "reach elements"),
    ("negative offset", (-1, (2,), (1,)), "reach elements"),
    ("negative size", (0, (-2,), (1,)), "bad size"),
    ("size and stride of different ranks", (0, (2, 2), (1,)), "bad size"),
    ("float size", (0, (2.0,), (1,)), "expected an int"),
    ("stride-0 broadcast of 2**27 floats", (0, (2**27,), (0,)), "more than 64x"),
    ("overlapping strides blowing up", (0, (2**14, 2**13), (0, 0)), "more than 64x"),
]


@pytest.mark.parametrize("what,args,message", TENSOR_ATTACKS, ids=[a[0] for a in TENSOR_ATTACKS])
def test_tensor_outside_or_amplifying_its_storage_is_refused(tmp_path, what, args, message):
    offset, size, stride = args
    path = _crafted(tmp_path / "t.pth", lambda s: {"w": _CraftedTensor(s, offset, size, stride)})
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=message) as err:
            jtorch.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(err.value) and "archive/data/0" in str(err.value)
    assert peak < 4 << 20  # refused before allocating the tensor


def test_many_aliases_of_one_storage_are_bounded_over_the_whole_file(tmp_path):
    """100 full views of a 1 MiB storage: each is in bounds, together they are 100x."""
    n = 1 << 18

    def views(storage):
        return [_CraftedTensor(storage, 0, (n,), (1,)) for _ in range(100)]

    path = _crafted(tmp_path / "t.pth", views, elements=n)
    with pytest.raises(CheckpointError, match="more than 64x"):
        jtorch.load(path)


def test_legitimate_views_and_small_broadcasts_still_load(tmp_path):
    path = _crafted(
        tmp_path / "t.pth",
        lambda s: {
            "rev": _CraftedTensor(s, 3, (4,), (-1,)),
            "bcast": _CraftedTensor(s, 1, (3, 2), (0, 1)),
            "empty": _CraftedTensor(s, 0, (0, 5), (5, 1)),
        },
    )
    out = jtorch.load(path)
    np.testing.assert_array_equal(np.asarray(out["rev"]), [3, 2, 1, 0])
    np.testing.assert_array_equal(np.asarray(out["bcast"]), [[1, 2]] * 3)
    assert out["empty"].shape == (0, 5)


STATE_ATTACKS = [
    (
        "BUILD on an allowed function rewrites its defaults",
        b"ctorch._utils\n_rebuild_parameter\n" + _state((None, {"__defaults__": (1,)})) + b"b",
    ),
    (
        "BUILD on an allowed class sets a method",
        b"ccollections\nCounter\n" + _state((None, {"most_common": 1})) + b"b",
    ),
    ("BUILD on a dtype stand-in", b"ctorch\nfloat32\n" + _state((3, "<", None)) + b"b"),
    ("SETITEM on an allowed class", b"ccollections\nOrderedDict\n" + _state("k") + b"K\x01s"),
    ("APPEND on a storage type", b"ctorch\nFloatStorage\nK\x01a"),
    ("storage argument not a storage", b"ctorch._utils\n_rebuild_tensor_v2\n(K\x05K\x00)))tR"),
    ("Parameter of a non-tensor", b"ctorch._utils\n_rebuild_parameter\n(K\x05\x89tR"),
    ("os.system", b"cos\nsystem\n" + _state(("true",)) + b"R"),
    ("a persistent id that is not a storage", b"(X\x03\x00\x00\x00fooK\x00tQ"),
]


@pytest.mark.parametrize("what,body", STATE_ATTACKS, ids=[a[0] for a in STATE_ATTACKS])
def test_state_setting_opcodes_never_reach_globals(tmp_path, what, body):
    path = tmp_path / "s.pth"
    _write_pth(path, _raw_pickle(body))
    counter_method = collections.Counter.most_common
    float32 = np.dtype(np.float32)
    with pytest.raises(CheckpointError) as err:
        jtorch.load(path)
    assert str(path) in str(err.value)
    assert isinstance(err.value, pickle.UnpicklingError)  # as torch.load raises
    assert collections.Counter.most_common is counter_method
    assert np.dtype(np.float32) is float32 and float32.byteorder == "="
    for name in ("rebuild_parameter", "rebuild_tensor"):
        assert getattr(torch_pth._Reader, name).__defaults__ is None


def _set_declared_size(path, name, size, compressed_too=False):
    """Rewrite the uncompressed size (and with `compressed_too` the compressed size) that record
    `name` declares, in its local header and the central directory."""
    raw = bytearray(path.read_bytes())
    encoded = name.encode()
    for signature, field, name_offset in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        at = raw.find(signature)
        while at >= 0:
            if raw[at + name_offset : at + name_offset + len(encoded)] == encoded:
                raw[at + field : at + field + 4] = struct.pack("<I", size)
                if compressed_too:
                    raw[at + field - 4 : at + field] = struct.pack("<I", size)
            at = raw.find(signature, at + 4)
    path.write_bytes(bytes(raw))


def _bomb(tmp_path, declared=None):
    storage = torch_pth._Storage("0", np.zeros(16 << 20, np.float32))  # 64 MiB of zeros
    buffer = io.BytesIO()
    torch_pth._Pickler(buffer, protocol=2).dump({"w": torch_pth._Tensor(storage)})
    path = tmp_path / "bomb.pth"
    _write_pth(path, buffer.getvalue(), [storage], compress=True)
    if declared is not None:
        _set_declared_size(path, "archive/data/0", declared)
    return path


@pytest.mark.parametrize(
    "declared,message",
    [(None, "more than 64x"), (4000, "inflates past its declared size")],
    ids=["declares 64 MiB from 65 KiB", "declares 4000 bytes, inflates to 64 MiB"],
)
def test_deflate_bombs_are_refused_before_inflating(tmp_path, declared, message):
    path = _bomb(tmp_path, declared)
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=message) as err:
            jtorch.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(err.value) and "archive/data/0" in str(err.value)
    assert peak < 4 << 20


def test_compressed_records_within_bounds_load(tmp_path):
    storage = torch_pth._Storage("0", np.arange(1000, dtype=np.float32))
    buffer = io.BytesIO()
    torch_pth._Pickler(buffer, protocol=2).dump({"w": torch_pth._Tensor(storage)})
    _write_pth(tmp_path / "z.pth", buffer.getvalue(), [storage], compress=True)
    np.testing.assert_array_equal(np.asarray(jtorch.load(tmp_path / "z.pth")["w"]), storage.array)


def test_record_declared_past_the_end_of_the_file(tmp_path):
    path = _crafted(tmp_path / "t.pth", lambda s: {"w": _CraftedTensor(s, 0, (4,), (1,))})
    _set_declared_size(path, "archive/data/0", 1 << 31, compressed_too=True)
    with pytest.raises(CheckpointError, match="past the end of the file") as err:
        jtorch.load(path)
    assert str(path) in str(err.value) and "archive/data/0" in str(err.value)


def test_verify_checks_crcs_of_the_storages(tmp_path, capsys):
    jtorch.save({"w": np.arange(64, dtype=np.float32)}, tmp_path / "ok.pth")
    raw = bytearray((tmp_path / "ok.pth").read_bytes())
    at = raw.find(np.arange(64, dtype=np.float32).tobytes())
    raw[at + 5] ^= 0xFF  # one flipped bit pattern inside the storage record
    (tmp_path / "bad.pth").write_bytes(bytes(raw))
    assert jtorch.load(tmp_path / "bad.pth")["w"].shape == (64,)  # torch.load does not check
    with pytest.raises(CheckpointError, match="CRC-32") as err:
        jtorch.load(tmp_path / "bad.pth", verify=True)
    assert "bad.pth" in str(err.value) and "data/0" in str(err.value)
    assert jtorch.load(tmp_path / "ok.pth", verify=True)["w"].shape == (64,)
    assert main(["ckpt", "inspect", "--verify", str(tmp_path / "bad.pth")]) == 1
    assert "CRC-32" in capsys.readouterr().err
    assert main(["ckpt", "inspect", "--verify", str(tmp_path / "ok.pth")]) == 0


def test_deeply_nested_containers_are_refused(tmp_path):
    path = tmp_path / "deep.pth"
    _write_pth(path, _raw_pickle(b"]" * 100_000 + b"a" * 99_999))  # 100 000 nested lists
    with pytest.raises(CheckpointError, match="too deeply") as err:
        jtorch.load(path)
    assert str(path) in str(err.value)
