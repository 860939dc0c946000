"""Sharded checkpoints of distributed state (torch.distributed.checkpoint's `save`/`load`).

Every process calls `save` with the same path: Orbax writes each process's shards of every
global array and commits the checkpoint once. `load` restores onto the placement of the
`state_dict` it is given (a DDP model's replicated arrays, an FSDP model's shards, one device),
whatever the device or process count that saved it: 4 devices → 1, 1 → 4, 2 processes → 1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

__all__ = ["save", "load", "gather"]


def _arrays(state_dict: Any, fn: str) -> Any:
    def check(path: Any, leaf: Any) -> Any:
        value = leaf.get_value() if hasattr(leaf, "get_value") else leaf
        if not hasattr(value, "shape") or not hasattr(value, "dtype"):
            raise TypeError(
                f"{fn}: the entry at {jax.tree_util.keystr(path)} is a "
                f"{type(value).__name__}, expected an array"
            )
        return value

    return jax.tree_util.tree_map_with_path(check, state_dict)


def save(state_dict: Any, checkpoint_id: str | os.PathLike) -> None:
    """Write `state_dict` (a dict of arrays, e.g. `model.state_dict()`) as a sharded Orbax
    checkpoint at `checkpoint_id`; every process must call it. An existing checkpoint there is
    an error (torch's DCP overwrites; Orbax refuses)."""
    tree = _arrays(state_dict, "save")
    path = Path(checkpoint_id).absolute()
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(path, tree)
        checkpointer.wait_until_finished()


def load(state_dict: Any, checkpoint_id: str | os.PathLike) -> Any:
    """The checkpoint at `checkpoint_id`, each array placed like `state_dict`'s entry of the same
    key (its sharding, shape and dtype), returned as a new dict: pass it to `load_state_dict`.

    Differs from torch: arrays are immutable, so `state_dict` is not filled in place.
    """
    path = Path(checkpoint_id).absolute()
    if not path.is_dir():
        raise FileNotFoundError(f"load: no checkpoint at {path}")
    target = _arrays(state_dict, "load")

    def abstract(value: Any) -> jax.ShapeDtypeStruct:
        sharding = getattr(value, "sharding", None)
        if not isinstance(value, jax.Array):
            sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        return jax.ShapeDtypeStruct(value.shape, np.dtype(value.dtype), sharding=sharding)

    with ocp.StandardCheckpointer() as checkpointer:
        saved = checkpointer.metadata(path).item_metadata
        if isinstance(target, dict):
            saved_keys = set(dict(getattr(saved, "tree", saved)))
            missing, unexpected = set(target) - saved_keys, saved_keys - set(target)
            if missing or unexpected:
                raise ValueError(
                    f"load: the checkpoint at {path} does not match `state_dict`: missing keys "
                    f"{sorted(missing)}, unexpected keys {sorted(unexpected)}"
                )
        return checkpointer.restore(path, jax.tree.map(abstract, target))


def gather(state_dict: Any) -> Any:
    """`state_dict` with every array gathered whole into host memory (numpy), on every process:
    for a `.pth`/`.safetensors` export of sharded state (model or optimizer `state_dict()`).
    Every process must call it; other leaves (`param_groups` numbers) are kept as they are."""

    def whole(leaf: Any) -> Any:
        if isinstance(leaf, jax.Array):
            if leaf.is_fully_addressable:
                return np.asarray(leaf)
            return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))
        return leaf

    return jax.tree.map(whole, state_dict)
