"""Orbax directory checkpoints: arrays through Orbax's StandardCheckpointHandler, structure as JSON.

Layout of a checkpoint directory (a composite Orbax checkpoint, readable with plain Orbax):

    PATH/arrays/   the arrays, named "0", "1", ... (omitted when there are none)
    PATH/meta/     {"format": "jtorch", "version": 1, "tree": <skeleton from _tree.Encoder>}

Saves are atomic. Orbax writes into a temporary directory and renames it when complete; jtorch
asks it to write a hidden sibling (`.NAME.jtorch-new-*`) and only then swaps it in for PATH with
two renames (`PATH -> .NAME.jtorch-old-*`, new -> PATH). A process killed at any point leaves
either the previous checkpoint at PATH or, inside the two-rename window, a complete checkpoint
that `recover()` (run by every load and save) moves back to PATH; the temporary names record
their writer, so only killed saves' leftovers are touched (`_leftovers`). Directories without
Orbax's commit marker are never loaded.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import jax
import ml_dtypes
import numpy as np

from jtorch.checkpoint import orbax_arrays
from jtorch.checkpoint._bounds import check_declared_arrays
from jtorch.checkpoint._leftovers import stale_siblings, sweep, temp_name
from jtorch.checkpoint._tree import CheckpointError

__all__ = ["save_orbax", "load_orbax", "is_orbax_checkpoint", "recover", "array_metadata"]

FORMAT = "jtorch"
VERSION = 1
_COMMIT_MARKER = "_CHECKPOINT_METADATA"
_checkpointer: Any = None


def _ocp() -> Any:
    import orbax.checkpoint as ocp

    return ocp


def _get_checkpointer() -> Any:
    global _checkpointer
    if _checkpointer is None:
        ocp = _ocp()
        handler = ocp.CompositeCheckpointHandler(
            arrays=orbax_arrays.handler(), meta=ocp.JsonCheckpointHandler()
        )
        _checkpointer = ocp.Checkpointer(handler)
    return _checkpointer


def is_orbax_checkpoint(path: str | os.PathLike) -> bool:
    """True if `path` is a committed Orbax checkpoint directory."""
    path = Path(path)
    return path.is_dir() and (path / _COMMIT_MARKER).is_file()


def recover(path: str | os.PathLike) -> None:
    """Finish or undo a swap that a killed save left half done, and remove the leftovers of
    killed saves (never those of a save still running in a live process)."""
    path = Path(path)
    if not path.exists():
        done = [p for p in stale_siblings(path, "new") if is_orbax_checkpoint(p)]
        old = [p for p in stale_siblings(path, "old") if is_orbax_checkpoint(p)]
        if done:
            os.rename(done[-1], path)
        elif old:
            os.rename(old[-1], path)
    if path.exists():
        sweep(path, ("new", "old"))


def _as_array(value: Any) -> jax.Array:
    """A jax array (numpy values go to the CPU device, without a copy when aligned)."""
    if isinstance(value, jax.Array):
        return value
    return jax.device_put(np.asarray(value, order="C"), jax.devices("cpu")[0])


def split_arrays(arrays: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """({"0": array, ...} for Orbax, {"3": [shape, dtype]} for the empty arrays Orbax refuses)."""
    named, empty = {}, {}
    for i, array in enumerate(arrays):
        if array.size == 0:
            empty[str(i)] = [list(array.shape), np.dtype(array.dtype).name]
        else:
            named[str(i)] = _as_array(array)
    return named, empty


def _empty_dtype(name: Any) -> np.dtype | None:
    """The numeric dtype called `name` (numpy's or ml_dtypes'), or None."""
    if not isinstance(name, str):
        return None
    try:
        dtype = np.dtype(getattr(ml_dtypes, name, name))
    except TypeError:
        return None
    numeric = dtype.kind in "biufc" or getattr(ml_dtypes, dtype.name, None) is dtype.type
    return dtype if numeric and dtype.names is None and dtype.subdtype is None else None


def join_arrays(named: dict[str, Any], empty: Any, target: Any, source: Any = "") -> list[Any]:
    """The array list back from `split_arrays`' two parts; the "empty" entries of the metadata
    are checked against what they may declare (zero-size arrays of a numeric dtype, at indices
    the arrays on disk do not use) before anything is allocated."""
    where = f"jtorch.load: {source}/meta"
    if not isinstance(empty, dict):
        raise CheckpointError(f"{where}: `empty` is {type(empty).__name__}, expected a dict")
    out = dict(named)
    for key, entry in empty.items():
        shape, dtype = entry if isinstance(entry, list) and len(entry) == 2 else (None, None)
        if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)):
            raise CheckpointError(f"{where}: empty array {key!r} has a bad shape in {entry!r}")
        if 0 not in shape:
            raise CheckpointError(
                f"{where}: empty array {key!r} declares shape {shape}, which is not empty (only "
                "zero-size arrays are stored in the metadata)"
            )
        if _empty_dtype(dtype) is None:
            raise CheckpointError(f"{where}: empty array {key!r} has unknown dtype {dtype!r}")
        if key in out:
            raise CheckpointError(f"{where}: array {key!r} is both stored and declared empty")
        out[key] = jax.device_put(np.zeros(shape, _empty_dtype(dtype)), target)
    if sorted(out) != sorted(str(i) for i in range(len(out))):
        raise CheckpointError(
            f"{where}: array names {sorted(out)[:5]}... are not 0..{len(out) - 1} (damaged?)"
        )
    return [out[str(i)] for i in range(len(out))]


def save_orbax(path: str | os.PathLike, tree: Any, arrays: list[Any]) -> None:
    """Write a checkpoint directory atomically (replacing an existing checkpoint at `path`).

    Not fsynced (torch.save's durability): safe against a killed process, not a power cut."""
    ocp = _ocp()
    path = Path(path).absolute()
    if jax.process_count() > 1:
        # Orbax's writers take part in barriers of every process and refuse process-local
        # arrays, so one rank alone cannot write a directory checkpoint.
        raise ValueError(
            f"jtorch.save: {path}: in a job of {jax.process_count()} processes a checkpoint "
            "directory is written by every process together: call "
            "jtorch.distributed.checkpoint.save(state_dict, path) on every rank; for one "
            "rank's own file (torch's `if rank == 0: torch.save(...)`) use a .pth or "
            ".safetensors path"
        )
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"jtorch.save: {path} exists and is not a checkpoint directory")
    if path.is_dir() and any(path.iterdir()) and not is_orbax_checkpoint(path):
        raise FileExistsError(
            f"jtorch.save: {path} is a non-empty directory that is not a checkpoint; refusing to "
            "replace it"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    tmp = temp_name(path, "new")
    named, empty = split_arrays(arrays)
    meta = {"format": FORMAT, "version": VERSION, "tree": tree, "empty": empty}
    items = {"meta": ocp.args.JsonSave(meta)}
    if named:
        items["arrays"] = orbax_arrays.save_args(named)
    try:
        _get_checkpointer().save(tmp, ocp.args.Composite(**items))
    except BaseException:
        for leftover in path.parent.glob(f"{tmp.name}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        raise
    if path.exists():
        old = temp_name(path, "old")
        os.rename(path, old)
        os.rename(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, path)


def array_metadata(path: Path) -> dict[str, Any]:
    """{"0": ArrayMetadata(shape, dtype, ...), ...} of a checkpoint's arrays (none read)."""
    if not (path / "arrays").is_dir():
        return {}
    metadata = _get_checkpointer().metadata(path).item_metadata["arrays"]
    tree = getattr(metadata, "tree", metadata)
    return dict(tree)


def load_orbax(path: str | os.PathLike, target: Any) -> tuple[Any, list[Any]]:
    """(skeleton, arrays) of a checkpoint, arrays placed on `target`."""
    ocp = _ocp()
    path = Path(path).absolute()
    recover(path)
    if not path.exists():
        raise FileNotFoundError(f"jtorch.load: no checkpoint at {path}")
    if not is_orbax_checkpoint(path):
        raise CheckpointError(
            f"jtorch.load: {path} is not a complete Orbax checkpoint (no {_COMMIT_MARKER}; an "
            "interrupted or foreign save?)"
        )
    try:
        if not (path / "meta").is_dir():
            return None, _load_plain_pytree(path, target)
        items = {"meta": ocp.args.JsonRestore()}
        if (path / "arrays").is_dir():
            declared = array_metadata(path)
            check_declared_arrays(path, declared, path / "arrays")
            abstract = {
                k: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=_sharding(target))
                for k, m in declared.items()
            }
            items["arrays"] = orbax_arrays.restore_args(abstract)
        restored = _get_checkpointer().restore(path, ocp.args.Composite(**items))
    except (CheckpointError, FileNotFoundError):
        raise
    except Exception as err:  # orbax/tensorstore raise many types for damaged files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"jtorch.load: cannot read Orbax checkpoint {path} (damaged or truncated?): {first}"
        ) from err
    meta = restored["meta"]
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "tree" not in meta:
        raise CheckpointError(f"jtorch.load: {path}/meta is not a jtorch checkpoint description")
    arrays = dict(restored["arrays"]) if "arrays" in items else {}
    return meta["tree"], join_arrays(arrays, meta.get("empty", {}), target, path)


def _sharding(target: Any) -> Any:
    if isinstance(target, jax.sharding.Sharding):
        return target
    return jax.sharding.SingleDeviceSharding(target)


def _load_plain_pytree(path: Path, target: Any) -> Any:
    """A checkpoint written by plain Orbax (StandardCheckpointer/PyTreeCheckpointer)."""
    ocp = _ocp()
    checkpointer = ocp.PyTreeCheckpointer()
    metadata = checkpointer.metadata(path).item_metadata
    declared, _ = jax.tree_util.tree_flatten_with_path(
        getattr(metadata, "tree", metadata), is_leaf=lambda m: hasattr(m, "shape")
    )
    check_declared_arrays(path, {jax.tree_util.keystr(k): m for k, m in declared}, path)
    tree = checkpointer.restore(path)
    return jax.tree.map(lambda a: jax.device_put(a, target), tree)
