"""Temporary names that record their writer, and sweeping what killed saves left behind.

Every temporary file or directory a save creates next to its target is called
`.NAME.jtorch-KIND-HOST-PID-ID` (KIND: tmp, new, old; HOST: a hash of the host name; PID: the
writing process). A later save to the same target removes the ones whose writer is dead: same
host and no process with that pid. Entries of a live process (this one included: another thread
may be saving), and entries of another host (whose processes cannot be checked), are left alone.
Names without a writer (written by earlier jtorch versions) count as stale.

`CheckpointManager` directories hold Orbax's temporary step directories (`N.orbax-checkpoint-tmp*`),
whose names Orbax chooses; there each manager instance keeps a marker file
`.jtorch-writer-HOST-PID-ID` for as long as it is open, and temporary steps are swept only when
no other live writer has a marker in the directory.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import uuid
import zlib
from pathlib import Path

__all__ = ["temp_name", "stale_siblings", "sweep", "WriterMarker"]

_HOST = f"{zlib.crc32(socket.gethostname().encode()):08x}"
_WRITER = re.compile(r"-([0-9a-f]{8})-(\d+)-[0-9a-f]+(?:\.|$)")
_ORBAX_TMP_STEP = re.compile(r"^\d+\.orbax-checkpoint-tmp")
_MARKER = ".jtorch-writer-"


def temp_name(path: Path, kind: str) -> Path:
    """A fresh temporary sibling of `path` that names this process as its writer."""
    return path.parent / f".{path.name}.jtorch-{kind}-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _writer_dead(suffix: str) -> bool:
    """True if the name's writer is known to be gone (or the name records none)."""
    match = _WRITER.match(suffix)
    if match is None:
        return True
    host, pid = match.group(1), int(match.group(2))
    return host == _HOST and not _pid_alive(pid)


def stale_siblings(path: Path, kind: str) -> list[Path]:
    """`.NAME.jtorch-KIND-*` siblings of `path` whose writer is dead, oldest name first."""
    prefix = f".{path.name}.jtorch-{kind}"
    if not path.parent.is_dir():
        return []
    found = [
        p
        for p in path.parent.iterdir()
        if p.name.startswith(prefix) and _writer_dead(p.name[len(prefix) :])
    ]
    return sorted(found)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def sweep(path: Path, kinds: tuple[str, ...]) -> None:
    """Remove the temporaries of killed saves to `path` (files or directories)."""
    for kind in kinds:
        for leftover in stale_siblings(path, kind):
            _remove(leftover)


class WriterMarker:
    """A `CheckpointManager`'s claim on its directory, and the sweep of its temporary steps."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{_MARKER}{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.path.touch()

    def sweep(self) -> None:
        """Remove Orbax temporary steps and dead writers' markers, unless another live writer
        (another manager, here or in another process) may be writing one of them."""
        others = [p for p in self.directory.iterdir() if p.name.startswith(_MARKER)]
        others = [p for p in others if p != self.path]
        live = [p for p in others if not _writer_dead(p.name[len(_MARKER) - 1 :])]
        for marker in others:
            if marker not in live:
                marker.unlink(missing_ok=True)
        if live:
            return
        for entry in self.directory.iterdir():
            if _ORBAX_TMP_STEP.match(entry.name):
                _remove(entry)

    def release(self) -> None:
        self.path.unlink(missing_ok=True)
