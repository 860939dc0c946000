"""How much memory a checkpoint may make jtorch allocate: at most MAX_AMPLIFICATION times the
bytes it holds on disk (plus AMPLIFICATION_SLACK), whatever sizes its metadata declares."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from jtorch.checkpoint._errors import CheckpointError

__all__ = [
    "MAX_AMPLIFICATION",
    "AMPLIFICATION_SLACK",
    "bytes_on_disk",
    "check_declared_arrays",
]

MAX_AMPLIFICATION = 64
AMPLIFICATION_SLACK = 1 << 20


def bytes_on_disk(path: Path) -> int:
    """Total size of the regular files under `path` (links are not followed)."""
    total = 0
    for entry in path.rglob("*"):
        if entry.is_file() and not entry.is_symlink():
            total += entry.stat().st_size
    return total


def _declared_bytes(meta: Any) -> int:
    """Bytes an array entry of Orbax metadata declares (0 for a non-array entry)."""
    if getattr(meta, "shape", None) is None or getattr(meta, "dtype", None) is None:
        return 0
    return math.prod(int(d) for d in meta.shape) * np.dtype(meta.dtype).itemsize


def check_declared_arrays(path: Path, metadata: Mapping[str, Any], data_dir: Path) -> None:
    """Refuse an Orbax checkpoint whose arrays declare more bytes than `data_dir` can hold: the
    read buffer is sized from the declared shape before any chunk is read, so a shape alone
    could allocate without bound. Each array with its own directory is checked against that
    directory, all of them together against `data_dir` (OCDBT keeps every array in shared
    files)."""
    held_total = bytes_on_disk(data_dir)
    declared_total = 0
    for key, meta in metadata.items():
        declared = _declared_bytes(meta)
        declared_total += declared
        own = data_dir / str(key)
        held = bytes_on_disk(own) if own.is_dir() else held_total
        if declared > MAX_AMPLIFICATION * held + AMPLIFICATION_SLACK:
            raise CheckpointError(
                f"jtorch.load: {path}: array {key!r} declares shape {tuple(meta.shape)} "
                f"({declared} bytes) but the checkpoint holds {held} bytes for it (more than "
                f"{MAX_AMPLIFICATION}x; refused)"
            )
    if declared_total > MAX_AMPLIFICATION * held_total + AMPLIFICATION_SLACK:
        raise CheckpointError(
            f"jtorch.load: {path}: its arrays declare {declared_total} bytes but it holds "
            f"{held_total} bytes (more than {MAX_AMPLIFICATION}x; refused)"
        )
