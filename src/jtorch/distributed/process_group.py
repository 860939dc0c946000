"""The default process group (torch.distributed's) on `jax.distributed`, and collectives of arrays.

`init_process_group` reads torchrun's environment (`MASTER_ADDR`, `MASTER_PORT`, `WORLD_SIZE`,
`RANK`) or its arguments and starts JAX's multi-process runtime: one JAX process per rank, every
device of every process in `jax.devices()`. The collectives here (`all_reduce`, `broadcast`,
`all_gather`, `barrier`) are for user code outside the compiled step (metrics, a flag from rank
0); inside a step, GSPMD inserts the collectives itself. They run on JAX's own
`jax.experimental.multihost_utils`.
"""

from __future__ import annotations

import enum
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.experimental import multihost_utils

__all__ = [
    "ReduceOp",
    "is_available",
    "is_initialized",
    "init_process_group",
    "destroy_process_group",
    "get_rank",
    "get_world_size",
    "get_backend",
    "barrier",
    "all_reduce",
    "broadcast",
    "all_gather",
]

_BACKENDS = ("gloo", "nccl", "mpi")


class _Group:
    """What `init_process_group` set up; None while uninitialised."""

    def __init__(self, backend: str, rank: int, world_size: int, started_jax: bool):
        self.backend = backend
        self.rank = rank
        self.world_size = world_size
        self.started_jax = started_jax


_group: _Group | None = None


class ReduceOp(enum.Enum):
    """Reductions of `all_reduce` (torch.distributed.ReduceOp)."""

    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


_REDUCERS = {
    ReduceOp.SUM: lambda x: jnp.sum(x, axis=0),
    ReduceOp.PRODUCT: lambda x: jnp.prod(x, axis=0),
    ReduceOp.MIN: lambda x: jnp.min(x, axis=0),
    ReduceOp.MAX: lambda x: jnp.max(x, axis=0),
    ReduceOp.AVG: lambda x: jnp.mean(x, axis=0),
    ReduceOp.BAND: lambda x: jnp.bitwise_and.reduce(x, axis=0),
    ReduceOp.BOR: lambda x: jnp.bitwise_or.reduce(x, axis=0),
    ReduceOp.BXOR: lambda x: jnp.bitwise_xor.reduce(x, axis=0),
}


def is_available() -> bool:
    """Always True: JAX's multi-process runtime is part of every jax install."""
    return True


def is_initialized() -> bool:
    """Whether `init_process_group` has run (and `destroy_process_group` has not)."""
    return _group is not None


def _env_int(name: str, given: int, default: int) -> int:
    if given != -1:
        return given
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(
            f"init_process_group: environment variable {name}={raw!r} is not an integer"
        ) from None


def _coordinator(init_method: str | None) -> str:
    """`host:port` of rank 0 from `init_method` ('env://' or 'tcp://host:port')."""
    if init_method is None or init_method == "env://":
        addr = os.environ.get("MASTER_ADDR")
        port = os.environ.get("MASTER_PORT")
        if not addr or not port:
            raise ValueError(
                "init_process_group: with init_method='env://' (the default) the environment "
                "must set MASTER_ADDR and MASTER_PORT (jtorch run sets them), got "
                f"MASTER_ADDR={addr!r}, MASTER_PORT={port!r}"
            )
        return f"{addr}:{port}"
    if init_method.startswith("tcp://"):
        address = init_method[len("tcp://") :]
        if ":" not in address:
            raise ValueError(
                f"init_process_group: `init_method` {init_method!r} has no port "
                "(expected 'tcp://host:port')"
            )
        return address
    raise ValueError(
        f"init_process_group: `init_method` {init_method!r} is not supported "
        "(expected 'env://' or 'tcp://host:port')"
    )


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: Any = None,
    world_size: int = -1,
    rank: int = -1,
) -> None:
    """Join the default process group: `jax.distributed.initialize` with rank 0 as coordinator.

    `world_size`/`rank` default to `WORLD_SIZE`/`RANK` (1 and 0 when unset: a single process,
    which needs no runtime). `backend` is torch's name: 'gloo' (or None) makes CPU collectives
    use gloo; 'nccl' and 'mpi' are accepted (JAX picks NCCL on GPUs by itself). `timeout` (a
    `datetime.timedelta`) bounds the wait for the other processes. Call it before any JAX
    computation: JAX's runtime cannot be joined once its backend has started. If
    `jax.distributed.initialize()` already ran (on Slurm or Cloud TPU it detects everything
    itself), the group is that runtime's processes.

    Differs from torch: the process group is JAX's; there is one group (no `new_group`).
    """
    global _group
    if _group is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    if backend is not None and backend.lower() not in _BACKENDS:
        raise ValueError(
            f"init_process_group: `backend` {backend!r} is not supported (expected one of "
            f"{', '.join(map(repr, _BACKENDS))} or None)"
        )
    backend = "gloo" if backend is None else backend.lower()
    if jax.distributed.is_initialized():  # started by the user, e.g. auto-detected on Slurm/TPU
        _group = _Group(backend, jax.process_index(), jax.process_count(), started_jax=False)
        return
    world_size = _env_int("WORLD_SIZE", world_size, 1)
    rank = _env_int("RANK", rank, 0)
    if world_size < 1:
        raise ValueError(f"init_process_group: `world_size` must be >= 1, got {world_size}")
    if not 0 <= rank < world_size:
        raise ValueError(
            f"init_process_group: `rank` must be in [0, {world_size - 1}] for world_size="
            f"{world_size}, got {rank}"
        )
    started = world_size > 1
    if started:
        coordinator = _coordinator(init_method)
        if backend in ("gloo", "mpi"):
            jax.config.update("jax_cpu_collectives_implementation", backend)
        kwargs: dict[str, Any] = {}
        if timeout is not None:
            kwargs["initialization_timeout"] = int(timeout.total_seconds())
        jax.distributed.initialize(
            coordinator_address=coordinator, num_processes=world_size, process_id=rank, **kwargs
        )
    _group = _Group(backend, rank, world_size, started)


def destroy_process_group(group: Any = None) -> None:
    """Leave the default process group (`jax.distributed.shutdown`)."""
    global _group
    _check_group(group)
    if _group.started_jax:
        jax.distributed.shutdown()
    _group = None


def _check_group(group: Any) -> None:
    if _group is None:
        raise ValueError(
            "Default process group has not been initialized, please make sure to call "
            "init_process_group."
        )
    if group is not None:
        raise ValueError("jtorch.distributed has one process group: pass group=None")


def get_rank(group: Any = None) -> int:
    """This process's rank (`jax.process_index()`)."""
    _check_group(group)
    return _group.rank


def get_world_size(group: Any = None) -> int:
    """The number of processes (`jax.process_count()`)."""
    _check_group(group)
    return _group.world_size


def get_backend(group: Any = None) -> str:
    """The backend name given to `init_process_group` ('gloo' by default)."""
    _check_group(group)
    return _group.backend


def barrier(group: Any = None) -> None:
    """Block until every process reaches this point."""
    _check_group(group)
    multihost_utils.sync_global_devices("jtorch.distributed.barrier")


def _value(tensor: Any) -> Any:
    return tensor.get_value() if isinstance(tensor, nnx.Variable) else tensor


def _store(tensor: Any, value: jax.Array) -> jax.Array:
    """torch's collectives write into `tensor`: done for Parameters/Buffers, which can be."""
    if isinstance(tensor, nnx.Variable):
        tensor.set_value(value)
    return value


def all_reduce(tensor: Any, op: ReduceOp = ReduceOp.SUM, group: Any = None) -> jax.Array:
    """The reduction (`op`) over processes of each process's `tensor`, the same on every rank.

    Differs from torch: arrays are immutable, so the result is returned (a `Parameter`/`Buffer`
    argument is also updated in place).
    """
    _check_group(group)
    if not isinstance(op, ReduceOp):
        raise TypeError(f"all_reduce: `op` must be a ReduceOp, got {op!r}")
    value = jnp.asarray(_value(tensor))
    stacked = multihost_utils.process_allgather(value, tiled=False)  # (world, *shape)
    out = _REDUCERS[op](jnp.asarray(stacked)).astype(value.dtype)
    return _store(tensor, out)


def broadcast(tensor: Any, src: int = 0, group: Any = None) -> jax.Array:
    """Rank `src`'s `tensor` on every rank (returned; Parameters/Buffers updated in place)."""
    _check_group(group)
    if not 0 <= src < _group.world_size:
        raise ValueError(
            f"broadcast: `src` must be a rank in [0, {_group.world_size - 1}], got {src}"
        )
    value = jnp.asarray(_value(tensor))
    out = multihost_utils.broadcast_one_to_all(value, is_source=_group.rank == src)
    return _store(tensor, jnp.asarray(out))


def all_gather(tensor_list: list, tensor: Any, group: Any = None) -> list:
    """Fill `tensor_list` (one entry per rank) with every rank's `tensor`; returns it."""
    _check_group(group)
    if not isinstance(tensor_list, list) or len(tensor_list) != _group.world_size:
        got = len(tensor_list) if isinstance(tensor_list, list) else type(tensor_list).__name__
        raise ValueError(
            f"all_gather: `tensor_list` must be a list of world_size={_group.world_size} "
            f"entries, got {got}"
        )
    stacked = np.asarray(multihost_utils.process_allgather(jnp.asarray(_value(tensor))))
    tensor_list[:] = [jnp.asarray(part) for part in stacked]
    return tensor_list
