"""`nn.DataParallel`: one process driving every local device, on the same mesh machinery as DDP."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtorch.distributed.ddp import _replicate_module, per_device_forward
from jtorch.distributed.mesh import batch_sharding, data_mesh
from jtorch.nn.module import Module

__all__ = ["DataParallel"]


class DataParallel(Module):
    """Split each batch over this process's devices and run `module` on each slice
    (torch.nn.DataParallel).

    Parameters and buffers are replicated on a `data` mesh of `jax.local_devices()` (or
    `device_ids`, indices into it); inputs may be ordinary arrays: they are split along dim 0,
    whose length must be a multiple of the device count. BatchNorm statistics are per device and
    device 0's running statistics are kept, as in torch. `state_dict()` keys carry torch's
    `module.` prefix; `model.module.state_dict()` has the bare model's keys.

    Differs from torch: outputs stay split over the devices (one global array) instead of being
    gathered on `output_device`; a batch that does not split evenly is an error.
    """

    def __init__(
        self, module: Module, device_ids: Any = None, output_device: Any = None, dim: int = 0
    ):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(
                f"DataParallel: `module` must be a jtorch.nn.Module, got {type(module).__name__}"
            )
        if dim != 0:
            raise ValueError(f"DataParallel: only dim=0 is supported, got dim={dim}")
        devices = jax.local_devices()
        if device_ids is not None:
            ids = [getattr(d, "index", d) for d in device_ids]
            bad = [i for i in ids if not isinstance(i, int) or not 0 <= i < len(devices)]
            if bad or not ids:
                raise ValueError(
                    f"DataParallel: `device_ids` must be indices into the {len(devices)} local "
                    f"devices, got {list(device_ids)!r}"
                )
            devices = [devices[i] for i in ids]
        self.module = module
        # a tuple: module attributes are part of the (hashed) compiled structure
        self.device_ids = tuple(range(len(devices))) if device_ids is None else tuple(ids)
        self._mesh = data_mesh(devices)
        _replicate_module(module, self._mesh)

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        sharding = batch_sharding(self._mesh)
        n = self._mesh.devices.size

        def place(x: Any) -> Any:
            if isinstance(x, np.ndarray):
                x = jnp.asarray(x)
            if isinstance(x, jax.Array) and x.ndim >= 1 and x.shape[0] % n == 0:
                return jax.device_put(x, sharding)  # per_device_forward names any bad shape
            return x

        inputs, kwargs = jax.tree.map(place, (inputs, kwargs))
        return per_device_forward(self.module, self._mesh, "DataParallel", inputs, kwargs)
