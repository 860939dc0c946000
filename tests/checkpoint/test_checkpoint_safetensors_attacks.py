"""Crafted .safetensors headers, checked as strictly as the safetensors library checks them:
each is refused with a CheckpointError naming the file (and the tensor, where one is at fault),
before any tensor memory is allocated; well-formed edge cases (empty tensors, metadata) load."""

import json
import struct
import tracemalloc

import numpy as np
import pytest

import jtorch
from jtorch.checkpoint import CheckpointError


def _write(path, header, data=b"", raw_header=None):
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def _t(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


EIGHT = bytes(range(8))

# (what, header, data section, text the error must contain, tensor it must name)
CASES = [
    ("overlapping offsets", {"a": _t("F32", [2], 0, 8), "b": _t("F32", [1], 4, 8)}, EIGHT,
     "must not overlap", "b"),
    ("end before begin, negative dim", {"a": _t("F32", [-1], 8, 4)}, EIGHT, "non-negative", "a"),
    ("end before begin", {"a": _t("F32", [0], 0, 0), "b": _t("F32", [0], 8, 4)}, EIGHT,
     "expected to start at", "b"),
    ("gap between tensors", {"a": _t("U8", [2], 0, 2), "b": _t("U8", [2], 4, 6)}, EIGHT[:6],
     "contiguous", "b"),
    ("missing data_offsets", {"a": {"dtype": "F32", "shape": [2]}}, EIGHT, "exactly the fields",
     "a"),
    ("extra field", {"a": {**_t("F32", [2], 0, 8), "x": 1}}, EIGHT, "exactly the fields", "a"),
    ("string offsets", {"a": {"dtype": "F32", "shape": [2], "data_offsets": ["0", "8"]}}, EIGHT,
     "data_offsets", "a"),
    ("three offsets", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4, 8]}}, EIGHT,
     "data_offsets", "a"),
    ("float dimension", {"a": _t("F32", [2.0], 0, 8)}, EIGHT, "non-negative ints", "a"),
    ("bool dimension", {"a": _t("U8", [True], 0, 1)}, EIGHT[:1], "non-negative ints", "a"),
    ("size not dtype x shape", {"a": _t("F32", [3], 0, 8)}, EIGHT, "needs 12", "a"),
    ("unknown dtype", {"a": _t("F128", [1], 0, 8)}, EIGHT, "unknown dtype", "a"),
    ("entry not an object", {"a": [0, 8]}, EIGHT, "exactly the fields", "a"),
    ("trailing bytes", {"a": _t("F32", [1], 0, 4)}, EIGHT, "cover 4 bytes", None),
    ("tensor past the end of the file", {"a": _t("F32", [2**38], 0, 2**40)}, EIGHT, "cover", None),
    ("metadata not strings", {"__metadata__": {"k": 1}}, b"", "__metadata__", None),
]  # fmt: skip


@pytest.mark.parametrize("what,header,data,message,key", CASES, ids=[c[0] for c in CASES])
def test_malformed_header_is_refused_naming_file_and_tensor(tmp_path, what, header, data, message,
                                                            key):  # fmt: skip
    path = _write(tmp_path / "bad.safetensors", header, data)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=message) as err:
            jtorch.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(err.value)
    assert key is None or repr(key) in str(err.value)
    assert peak < 1 << 20


@pytest.mark.parametrize(
    "what,raw,message",
    [
        ("duplicate keys", b'{"a": {}, "a": {}}', "repeats the key"),
        ("not an object", b"[1, 2]", "not a JSON object"),
        ("not JSON", b"{nope", "malformed header"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_malformed_json_is_refused(tmp_path, what, raw, message):
    path = _write(tmp_path / "bad.safetensors", None, raw_header=raw)
    with pytest.raises(CheckpointError, match=message) as err:
        jtorch.load(path)
    assert str(path) in str(err.value)


def test_header_longer_than_the_file(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(CheckpointError, match="bad header") as err:
        jtorch.load(path)
    assert str(path) in str(err.value)


def test_edge_cases_the_format_allows_still_load(tmp_path):
    header = {
        "__metadata__": {"format": "pt"},
        "empty": _t("F32", [0, 3], 0, 0),
        "b": _t("U8", [2, 2], 4, 8),
        "a": _t("I32", [1], 0, 4),  # the header's key order need not be the data order
    }
    out = jtorch.load(_write(tmp_path / "ok.safetensors", header, EIGHT))
    assert list(out) == ["empty", "a", "b"]
    assert out["empty"].shape == (0, 3)
    np.testing.assert_array_equal(np.asarray(out["a"]), np.frombuffer(EIGHT[:4], np.int32))
    np.testing.assert_array_equal(np.asarray(out["b"]), [[4, 5], [6, 7]])
