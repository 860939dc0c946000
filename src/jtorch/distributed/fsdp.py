"""Fully sharded data parallelism: each parameter split over the `data` mesh axis (GSPMD).

`fully_shard(model)` places every parameter as a `NamedSharding` split along one dimension, so
each device stores 1/N of it; optimizers built afterwards create their state with the same
sharding, and XLA partitions the unchanged `jtorch.jit` step: parameters are all-gathered where
they are used and gradients reduce-scattered, so parameters, gradients and optimizer state all
take 1/N of the memory per device. `FullyShardedDataParallel` adds torch FSDP's per-device
forward (BatchNorm statistics per device, as in DDP).
"""

from __future__ import annotations

from typing import Any

import jax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jtorch.distributed.ddp import _replicate_module, per_device_forward
from jtorch.distributed.mesh import AXIS, data_mesh
from jtorch.nn.module import Module, Parameter

__all__ = ["fully_shard", "FullyShardedDataParallel", "shard_spec"]


def shard_spec(shape: tuple[int, ...], n: int) -> PartitionSpec:
    """Split dim 0 over `n` devices if it divides, else the largest dim that does; arrays with
    no such dim (scalars, odd sizes) stay replicated."""
    dims = [d for d in range(len(shape)) if shape[d] % n == 0 and shape[d] >= n]
    if not dims:
        return PartitionSpec()
    dim = 0 if 0 in dims else max(dims, key=lambda d: shape[d])
    return PartitionSpec(*([None] * dim + [AXIS]))


def _shard_parameters(module: Module, mesh: Mesh) -> None:
    _replicate_module(module, mesh)  # same values on every process, buffers replicated
    n = mesh.devices.size
    for _, var in nnx.compat.iter_graph(module):
        if isinstance(var, Parameter):
            value = var.get_value()
            var.set_value(jax.device_put(value, NamedSharding(mesh, shard_spec(value.shape, n))))


def fully_shard(module: Module, *, mesh: Mesh | None = None) -> Module:
    """Split `module`'s parameters over the `data` axis in place and return it
    (torch.distributed.fsdp.fully_shard).

    Build the optimizer afterwards, so its state is sharded the same way. The forward runs under
    GSPMD on the global batch.

    Differs from torch: no per-layer all-gather schedule (XLA decides); the module's class is
    unchanged; BatchNorm under `fully_shard` alone sees the whole global batch (wrap in
    `FullyShardedDataParallel` for torch's per-device statistics).
    """
    if not isinstance(module, Module):
        raise TypeError(f"fully_shard: `module` must be a jtorch.nn.Module, got {type(module)}")
    _shard_parameters(module, data_mesh() if mesh is None else mesh)
    return module


class FullyShardedDataParallel(Module):
    """`module` with sharded parameters and a per-device forward
    (torch.distributed.fsdp.FullyShardedDataParallel).

    Each device stores 1/N of every parameter (see `fully_shard`); the forward runs on each
    device's slice of the batch with the parameters gathered whole, so the gradient of each
    parameter shard is reduce-scattered. `state_dict()` keys carry the `module.` prefix as DDP's;
    the arrays are global (sharded) arrays, gathered when saved to `.pth`.
    """

    def __init__(self, module: Module, *, mesh: Mesh | None = None):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(
                f"FullyShardedDataParallel: `module` must be a jtorch.nn.Module, got "
                f"{type(module).__name__}"
            )
        self.module = module
        self._mesh = data_mesh() if mesh is None else mesh
        _shard_parameters(module, self._mesh)

    @property
    def mesh(self) -> Mesh:
        """The `data` mesh the parameters are split over."""
        return self._mesh

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return per_device_forward(self.module, self._mesh, type(self).__name__, inputs, kwargs)
