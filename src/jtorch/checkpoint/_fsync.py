"""Making a written directory tree durable: fsync every file, every directory, and the parent.

Used where a checkpoint must survive a power cut (CheckpointManager steps). After `sync_tree(p)`
returns, the contents of every file under `p`, every directory entry under it and `p`'s own entry
in its parent are on stable storage, so a later deletion of an older checkpoint cannot leave the
disk holding neither.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["sync_tree"]

# fsyncs of different files overlap in the kernel (one journal commit can cover several)
_WORKERS = 8


def _fsync(path: str, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_tree(path: str | os.PathLike) -> None:
    """fsync every file under `path`, then every directory bottom-up, then `path`'s parent."""
    path = Path(path)
    files: list[str] = []
    directories: list[str] = []
    for root, _dirs, names in os.walk(path, topdown=False):
        files.extend(os.path.join(root, name) for name in names)
        directories.append(root)
    with ThreadPoolExecutor(_WORKERS, "jtorch-fsync") as pool:
        list(pool.map(_fsync, files, [os.O_RDONLY] * len(files)))
    for directory in (*directories, str(path.parent)):  # children before their parents
        _fsync(directory, os.O_RDONLY | os.O_DIRECTORY)
