"""`DistributedDataParallel`: the model replicated over the `data` mesh, each device's forward on
its own slice of the batch, gradients averaged by XLA inside the compiled step.

torch's DDP runs one process per device; each computes the forward on its share of the batch
and the backward all-reduces the gradients. jtorch gets the same program from one SPMD trace:
the wrapped module's forward runs under `jax.shard_map` over the `data` axis, so every layer (and
BatchNorm's batch statistics in particular) sees only its device's slice, and differentiating
through the replicated parameters makes XLA sum their gradients across devices (an all-reduce in
the compiled step). Layers that want global statistics (`SyncBatchNorm`) reduce over the axis
themselves while `data_parallel_axis()` says a per-device forward is being traced.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import jax
import numpy as np
from flax import nnx
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jtorch.distributed.mesh import AXIS, data_mesh, replicate
from jtorch.nn.module import Module, Parameter

__all__ = ["DistributedDataParallel", "data_parallel_axis", "per_device_forward"]

_tracing = threading.local()


def data_parallel_axis() -> str | None:
    """The mesh axis name while a DDP forward is being traced per device, else None."""
    return getattr(_tracing, "axis", None)


@contextlib.contextmanager
def _per_device_trace() -> Iterator[None]:
    previous = data_parallel_axis()
    _tracing.axis = AXIS
    try:
        yield
    finally:
        _tracing.axis = previous


def _replicate_module(module: Module, mesh: Mesh) -> None:
    """Every parameter and buffer of `module` copied to every device of `mesh`; with several
    processes, rank 0's values (torch's DDP broadcasts rank 0's state at construction)."""
    variables = [v for _, v in nnx.compat.iter_graph(module) if isinstance(v, nnx.Variable)]
    values = [v.get_value() for v in variables]
    if jax.process_count() > 1:
        # RNG keys are not summable; each rank's stream comes from the same seed anyway
        numeric = [i for i, v in enumerate(values) if not _is_key(v)]
        sent = multihost_utils.broadcast_one_to_all([values[i] for i in numeric])
        for i, value in zip(numeric, sent):
            values[i] = value
    for var, value in zip(variables, values):
        var.set_value(replicate(value, mesh))


def _is_key(x: Any) -> bool:
    return jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key)


def _is_batch_array(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray)) and x.ndim >= 1


def _not_param(path: Any, value: Any) -> bool:
    return isinstance(value, nnx.Variable) and not isinstance(value, Parameter)


class DistributedDataParallel(Module):
    """Data-parallel training of `module` over every device of every process
    (torch.nn.parallel.DistributedDataParallel).

    Parameters and buffers (and RNG state) are replicated on the `data` mesh at construction.
    Calling the wrapper runs `module`'s forward on each device's slice of the batch: give it
    batches split over the mesh (`jtorch.distributed.shard_batch`, or a `DataLoader(sharding=
    jtorch.distributed.batch_sharding(mesh))`); array arguments are split along their first axis,
    whose length must be a multiple of the device count. A `jtorch.jit` train step over the
    wrapper compiles to one SPMD program that all-reduces the gradients. BatchNorm uses each
    device's statistics, as under torch's DDP; the running statistics kept are device 0's (torch
    broadcasts rank 0's buffers before each forward). Use `nn.SyncBatchNorm` for global ones.
    In eval mode the forward runs on the whole batch (of any size) under GSPMD.

    `state_dict()` keys carry torch's `module.` prefix; save `model.module.state_dict()` for a
    checkpoint that loads into the bare model (as in torch).

    Differs from torch: one process may drive several devices (`device_ids` is accepted and
    ignored: the mesh is every device); `no_sync()` is a no-op, since gradients are returned, not
    accumulated in `.grad`: sum them in the step (see `jtorch.train` gradient accumulation).
    """

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        *,
        mesh: Mesh | None = None,
    ):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(
                f"DistributedDataParallel: `module` must be a jtorch.nn.Module, got "
                f"{type(module).__name__}"
            )
        if dim != 0:
            raise ValueError(f"DistributedDataParallel: only dim=0 is supported, got dim={dim}")
        self.module = module
        self._mesh = data_mesh() if mesh is None else mesh
        _replicate_module(module, self._mesh)

    @property
    def mesh(self) -> Mesh:
        """The `data` mesh the model is replicated on."""
        return self._mesh

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Accepted for torch code; gradients are never synchronised outside the step."""
        yield

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if not self.training:  # eval: no layer depends on the batch split; any batch size
            return self.module(*inputs, **kwargs)
        return per_device_forward(self.module, self._mesh, type(self).__name__, inputs, kwargs)


def _spec_of(value: Any, mesh: Mesh) -> PartitionSpec:
    """How `value` is split over `mesh` (replicated unless it is a NamedSharding on it)."""
    sharding = getattr(value, "sharding", None)
    if isinstance(sharding, NamedSharding) and sharding.mesh == mesh:
        return sharding.spec
    return PartitionSpec()


def _gather(value: jax.Array, spec: PartitionSpec) -> jax.Array:
    """The whole array from this device's shard (an all-gather along the split dim; its
    gradient is a reduce-scatter)."""
    for dim, name in enumerate(spec):
        if name == AXIS:
            value = jax.lax.all_gather(value, AXIS, axis=dim, tiled=True)
    return value


def per_device_forward(
    module: Module, mesh: Mesh, owner: str, inputs: tuple, kwargs: dict[str, Any]
) -> Any:
    """`module(*inputs, **kwargs)` run on each device of `mesh` with its slice of the batch.

    Array arguments are split along dim 0 over the `data` axis; parameters enter as they are
    stored (replicated, or split for FSDP and gathered whole inside); buffers and RNG state are
    replicated in and device 0's updated values are kept. The outputs are split along dim 0.
    """
    n = mesh.devices.size
    flat_in, in_tree = jax.tree.flatten((inputs, kwargs))
    is_batch = [_is_batch_array(x) for x in flat_in]
    for x, batch in zip(flat_in, is_batch):
        if batch and x.shape[0] % n:
            raise ValueError(
                f"{owner}: an input of shape {tuple(x.shape)} cannot be split along dim 0 over "
                f"{n} devices (expected a multiple of {n})"
            )
    batch_in = [x for x, b in zip(flat_in, is_batch) if b]
    graphdef, params, rest = nnx.compat.split(module, Parameter, ...)
    param_leaves, param_tree = jax.tree.flatten(params)
    param_specs = [_spec_of(p, mesh) for p in param_leaves]

    def per_device(param_leaves, rest, batch):
        it = iter(batch)
        args, kw = jax.tree.unflatten(
            in_tree, [next(it) if b else x for x, b in zip(flat_in, is_batch)]
        )
        whole = [_gather(p, spec) for p, spec in zip(param_leaves, param_specs)]
        local = nnx.merge(graphdef, jax.tree.unflatten(param_tree, whole), rest)
        with _per_device_trace():
            out = local(*args, **kw)
        new_rest = nnx.compat.state(local, _not_param)
        return out, jax.tree.map(lambda a: a[None], new_rest)

    data = PartitionSpec(AXIS)
    # check_vma=False: the custom-VJP layers (BatchNorm, the oneDNN convolutions) do not carry
    # JAX's per-device type annotations; the gradients of replicated inputs are still summed.
    out, new_rest = jax.shard_map(
        per_device,
        mesh=mesh,
        in_specs=(param_specs, PartitionSpec(), data),
        out_specs=(data, data),
        check_vma=False,
    )(param_leaves, rest, batch_in)
    nnx.update(module, jax.tree.map(lambda a: a[0], new_rest))
    return out
