"""Orbax checkpoint metadata that disagrees with what is on disk: the `empty` entries (arrays too
small for Orbax, kept in the JSON) may only declare zero-size numeric arrays at indices the stored
arrays do not use. Each crafted directory is refused with a CheckpointError naming it, before any
allocation; the same holds for CheckpointManager steps."""

import json
import tracemalloc

import jax.numpy as jnp
import pytest

import jtorch
from jtorch.checkpoint import CheckpointError, CheckpointManager


def _edit_meta(path, edit):
    meta_file = path / "meta" / "metadata"
    meta = json.loads(meta_file.read_text())
    edit(meta)
    meta_file.write_text(json.dumps(meta))


def _set_empty(value):
    def edit(meta):
        meta["empty"] = value

    return edit


# a checkpoint of {"w": array 0 (stored), "e": array 1 (empty, listed in meta)}
CASES = [
    ("2**27 elements declared empty", _set_empty({"1": [[2**27], "float32"]}), "not empty"),
    ("negative dimension", _set_empty({"1": [[-1, 0], "float32"]}), "bad shape"),
    ("float dimension", _set_empty({"1": [[0.0], "float32"]}), "bad shape"),
    ("object dtype", _set_empty({"1": [[0], "object"]}), "unknown dtype"),
    ("structured dtype", _set_empty({"1": [[0], "f4,(100000000,)i8"]}), "unknown dtype"),
    ("entry not a pair", _set_empty({"1": "float32"}), "bad shape"),
    ("collides with a stored array", _set_empty({"0": [[0], "float32"], "1": [[0], "int32"]}),
     "both stored and declared empty"),
    ("index gap", _set_empty({"2": [[0], "float32"]}), "are not 0..1"),
    ("empty not a dict", _set_empty([[0], "float32"]), "expected a dict"),
    ("tree missing", lambda meta: meta.pop("tree"), "not a jtorch checkpoint"),
]  # fmt: skip


@pytest.mark.parametrize("what,edit,message", CASES, ids=[c[0] for c in CASES])
def test_metadata_inconsistent_with_the_disk_is_refused(tmp_path, what, edit, message):
    path = tmp_path / "ck"
    jtorch.save({"w": jnp.ones(3), "e": jnp.zeros((0, 2))}, path)
    _edit_meta(path, edit)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=message) as err:
            jtorch.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(err.value)
    assert peak < 64 << 20  # far below the 512 MiB the first case declares


def test_manager_steps_are_checked_too(tmp_path):
    with CheckpointManager(tmp_path / "run") as manager:
        manager.save(1, extra={"e": jnp.zeros((0,)), "w": jnp.ones(2)})
    _edit_meta(tmp_path / "run" / "1", _set_empty({"0": [[2**27], "float32"]}))
    with CheckpointManager(tmp_path / "run") as manager:
        with pytest.raises(CheckpointError, match="not empty") as err:
            manager.restore(1)
    assert str(tmp_path / "run" / "1") in str(err.value)


def test_valid_empty_arrays_load(tmp_path):
    jtorch.save({"w": jnp.ones(3), "e": jnp.zeros((0, 2), jnp.bfloat16)}, tmp_path / "ck")
    out = jtorch.load(tmp_path / "ck")
    assert out["e"].shape == (0, 2) and out["e"].dtype == jnp.bfloat16
