"""`jtorch.device` and `jtorch.cuda`: torch's device names mapped onto JAX devices.

'cpu' is JAX's CPU platform, 'cuda[:N]' its GPU platform; anything JAX cannot provide ('mps', a
missing GPU, an index past the last device) raises a clear error instead of silently using the CPU.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

__all__ = ["device", "resolve_device", "cuda", "to", "backends", "accelerator"]

_PLATFORMS = {"cpu": "cpu", "cuda": "gpu", "gpu": "gpu", "tpu": "tpu"}


class device:
    """A device as torch names it: `device('cuda:0')`, `device('cpu')`, `device('cuda', 1)`."""

    def __init__(self, type: str | device, index: int | None = None):  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(
                f"device(): `type` must be a string such as 'cpu' or 'cuda:0', got {type!r}"
            )
        kind, _, idx = type.partition(":")
        if idx:
            if index is not None:
                raise ValueError(f"device(): index given twice: {type!r} and index={index}")
            if not idx.isdigit():
                raise ValueError(f"device(): invalid device string {type!r} (expected 'cuda:N')")
            index = int(idx)
        if kind not in _PLATFORMS and kind != "mps":
            raise ValueError(
                f"device(): unknown device type {kind!r} (expected one of cpu, cuda, tpu)"
            )
        self.type = kind
        self.index = index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


def _platform_devices(platform: str) -> list[jax.Device]:
    """This process's devices of `platform`: torch's `cuda:N` counts the devices a process
    sees, never another process's."""
    try:
        return jax.local_devices(backend=platform)
    except RuntimeError:
        return []


def resolve_device(spec: str | device | jax.Device) -> jax.Device:
    """The `jax.Device` for a torch-style device spec; raises if JAX has no such device."""
    if isinstance(spec, jax.Device):
        return spec
    dev = spec if isinstance(spec, device) else device(spec)
    if dev.type == "mps":
        raise RuntimeError("device 'mps' is not supported by JAX; use 'cpu' or 'cuda'")
    devices = _platform_devices(_PLATFORMS[dev.type])
    if not devices:
        raise RuntimeError(
            f"device {str(dev)!r} requested but JAX has no {_PLATFORMS[dev.type]} devices "
            f"(available: {', '.join(sorted({d.platform for d in jax.devices()}))})"
        )
    index = dev.index or 0
    if index >= len(devices):
        raise RuntimeError(
            f"device {str(dev)!r} requested but only {len(devices)} {dev.type} device(s) exist"
        )
    return devices[index]


def to(x: Any, device: str | device | jax.Device | jax.sharding.Sharding) -> Any:
    """Place an array (or a pytree of arrays) on a device or sharding (torch's `x.to(device)`)."""
    target = device if isinstance(device, jax.sharding.Sharding) else resolve_device(device)
    return jax.device_put(x, target)


class _Cuda:
    """`jtorch.cuda`: is_available() and device_count() for JAX's GPU platform."""

    @staticmethod
    def is_available() -> bool:
        return bool(_platform_devices("gpu"))

    @staticmethod
    def device_count() -> int:
        return len(_platform_devices("gpu"))

    @staticmethod
    def current_device() -> int:
        if not _platform_devices("gpu"):
            raise RuntimeError("no CUDA device is available to JAX")
        return 0

    @staticmethod
    def manual_seed(seed: int) -> None:
        """Same as `jtorch.manual_seed`: one global RNG serves every device."""
        from jtorch._random import manual_seed

        manual_seed(seed)

    manual_seed_all = manual_seed

    @staticmethod
    def synchronize() -> None:
        """Wait for all pending device work (jax.effects_barrier)."""
        jax.effects_barrier()


cuda = _Cuda()


class _Mps:
    """`jtorch.backends.mps`: JAX has no Metal backend, so never available."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def is_built() -> bool:
        return False


class _Cudnn:
    """`jtorch.backends.cudnn`: torch's flags are accepted and have no effect (XLA picks the
    algorithms)."""

    enabled = True
    benchmark = False
    deterministic = False


class _Backends:
    """`jtorch.backends`: the `mps` and `cudnn` flags torch scripts read or set."""

    mps = _Mps()
    cudnn = _Cudnn()


backends = _Backends()


class _Accelerator:
    """`jtorch.accelerator` (torch.accelerator): JAX's GPU when there is one."""

    @staticmethod
    def is_available() -> bool:
        return bool(_platform_devices("gpu"))

    @staticmethod
    def current_accelerator() -> device | None:
        return device("cuda", 0) if _platform_devices("gpu") else None

    @staticmethod
    def device_count() -> int:
        return len(_platform_devices("gpu"))


accelerator = _Accelerator()


def placed_like(value: jax.Array, current: Any) -> jax.Array:
    """`value` with `current`'s sharding: torch copies a loaded value into the existing tensor,
    so a DDP or FSDP model keeps its replicated or sharded parameters. A value this process
    holds whole fills a sharding that spans processes from its own copy."""
    if not isinstance(current, jax.Array) or any(
        isinstance(v, jax.core.Tracer) for v in (current, value)
    ):
        return value  # inside a trace: placement is the compiler's
    value = jax.numpy.asarray(value)
    if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):  # typed keys: place their data
        data = placed_like(jax.random.key_data(value), jax.random.key_data(current))
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(value))
    if not current.committed and current.ndim == 0 and value.is_fully_addressable:
        # a scalar made without a device (a step count) joins arrays on any devices in a
        # compiled step; keep the loaded one like that
        return jax.numpy.asarray(np.asarray(value))
    sharding = current.sharding
    if value.sharding == sharding:
        return value
    if sharding.is_fully_addressable or not value.is_fully_addressable:
        return jax.device_put(value, sharding)
    host = np.asarray(value)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])
