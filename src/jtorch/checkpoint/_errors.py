"""The one error type of checkpoint reading."""

from __future__ import annotations

__all__ = ["CheckpointError"]


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, damaged, of an unknown format, or names something that
    may not be rebuilt from it."""
