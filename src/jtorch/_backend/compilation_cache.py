"""JAX's persistent compilation cache, with a jtorch default directory.

XLA compiles every new train step again in each process (ResNet-18: several seconds before the
first step, every time `jtorch train` starts). JAX can keep compiled programs on disk
(`jax_compilation_cache_dir`) and load them in the next process whose program is the same; the
cache key covers the program, the compiler options and the jax/jaxlib versions, so a change of
any of them compiles anew rather than reusing a stale program. Loading a cached program gives
the same executable, so results keep their bits.

`jtorch train` and `fit` turn it on; library users call `jtorch.enable_compilation_cache()`.
`JTORCH_COMPILATION_CACHE` picks the directory, or `0` to leave the cache off everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["enable_compilation_cache", "default_cache_dir"]

# Programs that compile faster than this are not worth a disk write and read (JAX's default: 1 s).
_MIN_COMPILE_SECONDS = 0.5


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/jtorch/xla`, else `~/.cache/jtorch/xla`."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "jtorch" / "xla"


def enable_compilation_cache(directory: str | os.PathLike | None = None) -> Path | None:
    """Turn JAX's persistent compilation cache on in `directory` (default: the environment's
    `JTORCH_COMPILATION_CACHE`, else `default_cache_dir()`); returns the directory, or None
    when `JTORCH_COMPILATION_CACHE=0` keeps it off. A directory JAX already uses is kept."""
    import jax

    setting = os.environ.get("JTORCH_COMPILATION_CACHE", "")
    if setting == "0":
        return None
    current = jax.config.jax_compilation_cache_dir
    if current and directory is None:
        return Path(current)
    path = Path(directory or setting or default_cache_dir()).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", _MIN_COMPILE_SECONDS)
    return path
