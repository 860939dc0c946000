"""Uninitialised host buffers that jax adopts without a copy."""

from __future__ import annotations

import numpy as np

__all__ = ["aligned_empty"]

ALIGNMENT = 64  # jax takes over CPU numpy buffers aligned to this many bytes instead of copying


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-order array whose data starts on an ALIGNMENT-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, np.uint8)
    start = (-raw.ctypes.data) % ALIGNMENT
    return raw[start : start + nbytes].view(dtype).reshape(shape)
