"""`SyncBatchNorm`: BatchNorm whose batch statistics span every device of the data-parallel mesh.

Inside a `DistributedDataParallel` forward each device sees only its slice of the batch; this
layer averages the per-device sums over the `data` axis (`jax.lax.pmean`, an all-reduce in the
compiled step), so it normalises with the statistics of the whole global batch, exactly as one
BatchNorm over the unsplit batch would. Outside DDP it is a plain BatchNorm.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jtorch.distributed.ddp import data_parallel_axis
from jtorch.nn.module import Module
from jtorch.nn.modules.normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


def _global_moments(x: jax.Array, axis: str) -> tuple[jax.Array, jax.Array, int]:
    """Per-channel mean and biased variance over (N, *) of every device's (N, C, *) slice, and
    the global count per channel (every device holds an equal slice)."""
    axes = (0,) + tuple(range(2, x.ndim))
    mean = jax.lax.pmean(jnp.mean(x, axis=axes, keepdims=True), axis)
    var = jax.lax.pmean(jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True), axis)
    count = (x.size // x.shape[1]) * jax.lax.axis_size(axis)
    return mean, var, count


class SyncBatchNorm(_BatchNorm):
    """Batch normalization with statistics over the global batch (torch.nn.SyncBatchNorm).

    Accepts (N, C, *) inputs of any rank ≥ 2. `process_group` must be None (jtorch has one group).
    """

    _ndim = tuple(range(2, 9))
    _layout = "(N, C, *)"

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: Any = None,
        device: Any = None,
        dtype: Any = None,
    ):
        if process_group is not None:
            raise ValueError("SyncBatchNorm: jtorch has one process group; pass process_group=None")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, input: Any) -> jax.Array:
        axis = data_parallel_axis()
        if axis is None or not (self.training or self.running_mean is None):
            return super().forward(input)
        x = jnp.asarray(input)
        self._check_input_dim(x)
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"SyncBatchNorm: `input` of shape {tuple(x.shape)} has {x.shape[1]} channels on "
                f"dim 1, expected num_features={self.num_features}"
            )
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        mean, var, n = _global_moments(x, axis)
        y = (x - mean) * jax.lax.rsqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight.value.reshape(shape)
        if self.bias is not None:
            y = y + self.bias.value.reshape(shape)
        if self.training and self.track_running_stats and self.running_mean is not None:
            count = self.num_batches_tracked.value + 1
            self.num_batches_tracked = count
            factor = 1.0 / count.astype(x.dtype) if self.momentum is None else self.momentum
            batch_mean = jax.lax.stop_gradient(mean).reshape(-1)
            batch_var = jax.lax.stop_gradient(var).reshape(-1) * (n / (n - 1))
            self.running_mean = (1 - factor) * self.running_mean.value + factor * batch_mean
            self.running_var = (1 - factor) * self.running_var.value + factor * batch_var
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """`module` with every BatchNorm*d replaced by a SyncBatchNorm holding the same
        parameters, buffers and train/eval mode (a BatchNorm `module` itself is returned new)."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            converted = cls(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                process_group,
            )
            for name in ("weight", "bias"):
                setattr(converted, name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                setattr(converted, name, getattr(module, name))
            converted.train(module.training)
            return converted
        for name, child in list(module.named_children()):
            new = cls.convert_sync_batchnorm(child, process_group)
            if new is not child:
                module.add_module(name, new)
        return module
