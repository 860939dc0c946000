"""The `data` mesh over every device of every process, and placing arrays on it.

Data parallelism in jtorch is GSPMD: parameters live on the mesh (replicated for DDP, split for
FSDP), each batch is split along its first axis over the `data` axis, and XLA compiles the step
into one program with the collectives it needs. These helpers are the only place that builds the
mesh and the shardings.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["AXIS", "data_mesh", "replicated", "batch_sharding", "replicate", "shard_batch"]

AXIS = "data"


def data_mesh(devices: Any = None) -> Mesh:
    """A 1-D mesh with axis `data` over `devices` (default: every device of every process)."""
    devices = jax.devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("data_mesh: `devices` is empty")
    return Mesh(np.asarray(devices), (AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """The first axis split over `data`; the rest whole."""
    return NamedSharding(mesh, PartitionSpec(AXIS))


def _global_array(value: Any, sharding: NamedSharding) -> jax.Array:
    """`value` (this process's part) as one array over the mesh."""
    if isinstance(value, jax.Array) and value.sharding == sharding:
        return value
    if jax.dtypes.issubdtype(getattr(value, "dtype", None), jax.dtypes.prng_key):
        data = _global_array(jax.random.key_data(value), sharding)  # RNG state: its raw words
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(value))
    if jax.process_count() == 1:
        return jax.device_put(value, sharding)
    return jax.make_array_from_process_local_data(sharding, np.asarray(value))


def replicate(value: Any, mesh: Mesh) -> jax.Array:
    """`value` copied to every device of `mesh` (every process passes the same value)."""
    return _global_array(value, replicated(mesh))


def shard_batch(batch: Any, mesh: Mesh | None = None) -> Any:
    """Split every array in `batch` along its first axis over the mesh's `data` axis.

    Each process passes its own part (its `DistributedSampler` shard); the result is the global
    batch, `jax.process_count()` times as long, assembled with
    `jax.make_array_from_process_local_data`. The local batch size must be a multiple of the
    number of local devices. Non-array leaves (Python numbers, strings) are left alone.
    """
    mesh = data_mesh() if mesh is None else mesh
    sharding = batch_sharding(mesh)
    local_devices = sum(d.process_index == jax.process_index() for d in mesh.devices.flat)

    def place(leaf: Any) -> Any:
        if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
            return leaf
        if len(leaf.shape) == 0 or leaf.shape[0] % local_devices:
            raise ValueError(
                f"shard_batch: an array of shape {tuple(leaf.shape)} cannot be split along its "
                f"first axis over {local_devices} local devices (expected a multiple of "
                f"{local_devices})"
            )
        return _global_array(leaf, sharding)

    return jax.tree.map(place, batch)
