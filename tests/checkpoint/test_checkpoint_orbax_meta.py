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


def _set_zarr_shape(path, key, shape):
    zarray = path / "arrays" / key / ".zarray"
    spec = json.loads(zarray.read_text())
    spec["shape"] = shape  # one chunk of the original size: the rest would be missing chunks
    spec["chunks"] = spec["chunks"] + [1] * (len(shape) - 1)
    zarray.write_text(json.dumps(spec))


@pytest.mark.parametrize("shape", [[2**27], [2**16, 2**16]], ids=["512 MiB", "16 GiB"])
def test_zarr_shape_beyond_the_bytes_held_is_refused(tmp_path, shape):
    """A zarr array whose declared shape the directory cannot hold (the read buffer would be
    sized from it) is refused before any allocation, naming the file and the key."""
    path = tmp_path / "ck"
    jtorch.save({"w": jnp.ones(4), "b": jnp.zeros(3)}, path)
    _set_zarr_shape(path, "0", shape)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="array '0' declares shape") as err:
            jtorch.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(err.value)
    assert peak < 64 << 20


def test_plain_orbax_shape_beyond_the_bytes_held_is_refused(tmp_path):
    """The same for a checkpoint written by plain Orbax (no jtorch meta item)."""
    import orbax.checkpoint as ocp

    path = tmp_path / "plain"
    with ocp.Checkpointer(ocp.PyTreeCheckpointHandler(use_ocdbt=False)) as checkpointer:
        checkpointer.save(path, {"w": jnp.ones(4)})
    (zarray,) = path.rglob(".zarray")
    spec = json.loads(zarray.read_text())
    spec["shape"] = spec["chunks"] = [2**27]
    zarray.write_text(json.dumps(spec))
    with pytest.raises(CheckpointError, match="declares shape") as err:
        jtorch.load(path)
    assert str(path) in str(err.value)
