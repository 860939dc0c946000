"""Saving and loading: `jtorch.save`/`jtorch.load` (torch.save/torch.load), `CheckpointManager`.

The format follows the path: a path without a known suffix is an Orbax checkpoint directory (the
default); `.pth`, `.pt`, `.tar` and `.bin` are PyTorch's zip format; `.safetensors` is safetensors.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

from jtorch.checkpoint._errors import CheckpointError
from jtorch.checkpoint._tree import Decoder, Encoder, placement
from jtorch.checkpoint._trust import Trust, add_safe_globals, clear_safe_globals, get_safe_globals
from jtorch.checkpoint.manager import CheckpointManager
from jtorch.checkpoint.orbax_io import is_orbax_checkpoint, load_orbax, save_orbax
from jtorch.checkpoint.safetensors_io import load_safetensors, save_safetensors
from jtorch.checkpoint.torch_pth import load_pth, save_pth

__all__ = [
    "save",
    "load",
    "CheckpointManager",
    "CheckpointError",
    "detect_format",
    "add_safe_globals",
    "get_safe_globals",
    "clear_safe_globals",
]

_PTH_SUFFIXES = (".pth", ".pt", ".tar", ".bin")


def _format_by_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _PTH_SUFFIXES:
        return "pth"
    if suffix == ".safetensors":
        return "safetensors"
    return "orbax"


def detect_format(path: str | os.PathLike) -> str:
    """'orbax', 'pth' or 'safetensors' for an existing checkpoint (by content, then suffix)."""
    path = Path(path)
    if path.is_dir():
        return "orbax"
    if path.is_file():
        if zipfile.is_zipfile(path):
            return "pth"
        fmt = _format_by_suffix(path)
        return "unknown" if fmt == "orbax" else fmt
    return _format_by_suffix(path)


def save(obj: Any, f: str | os.PathLike) -> None:
    """Save `obj` to `f` (torch.save): a state_dict, a Module (structure and state), an optimizer
    or scheduler (its state_dict), or any nesting of dicts/lists/tuples of arrays and plain values.

    Differs from torch: nothing is pickled. A path without a known suffix becomes an Orbax
    directory (written atomically); `.pth`/`.pt`/`.tar` files are written in torch's zip format
    (arrays and plain containers only) and `.safetensors` holds a flat dict of arrays.

    Durability is torch.save's: the data is handed to the OS without fsync. Writes are atomic
    (temporary file or directory, then rename), so a killed process leaves the old or the new
    checkpoint; after a power cut right after a save, both may be damaged. Training loops that
    need more use `CheckpointManager`, which fsyncs every step.
    """
    path = Path(f)
    fmt = _format_by_suffix(path)
    if fmt == "pth":
        save_pth(obj, path)
    elif fmt == "safetensors":
        from jtorch.nn.module import Module

        if isinstance(obj, Module) or (
            not isinstance(obj, dict) and callable(getattr(obj, "state_dict", None))
        ):
            obj = obj.state_dict() if not isinstance(obj, Module) else _refuse_module(path)
        save_safetensors(obj, path)
    else:
        encoder = Encoder()
        tree = encoder.encode(obj)
        save_orbax(path, tree, encoder.arrays)


def _refuse_module(path: Path) -> Any:
    raise TypeError(
        f"jtorch.save: {path.name}: a .safetensors file holds only a state_dict; save "
        "`model.state_dict()` there, or the model to an Orbax directory (a path without suffix)"
    )


def load(
    f: str | os.PathLike,
    map_location: Any = None,
    weights_only: bool | None = None,
    *,
    trusted: Any = None,
    verify: bool = False,
) -> Any:
    """Load what `save` (or torch.save, for .pth files) wrote, with arrays on `map_location`:
    None (JAX's default device), 'cpu', 'cuda', 'cuda:N', a jtorch.device, a jax.Device or a
    jax.sharding.Sharding.

    A full model is rebuilt from its recorded class paths without unpickling and without
    importing anything the file names: a class must be a `jtorch.nn.Module` subclass from a
    module already imported (or `__main__`, or jtorch itself), or be allowed explicitly with
    `trusted=[MyNet, "my_models", ...]` (classes, functions, or module names that may be
    imported) or `jtorch.checkpoint.add_safe_globals([MyNet])`. `verify=True` checks the CRC-32
    of every record of a .pth file (other formats carry no checksums).

    Differs from torch: always as safe as `weights_only=True` (the argument is accepted and
    ignored).
    """
    return _load(f, map_location, Trust(trusted), verify=verify, resolve=True)


def load_unresolved(f: str | os.PathLike, map_location: Any = None, verify: bool = False) -> Any:
    """`load` without resolving any class or function: a full model comes back as a
    `full_model.ModuleRecord` (class path and state_dict arrays), names as strings."""
    return _load(f, map_location, Trust(), verify=verify, resolve=False)


def _load(f: Any, map_location: Any, trust: Trust, *, verify: bool, resolve: bool) -> Any:
    target = placement(map_location)
    path = Path(f)
    fmt = detect_format(path)
    if fmt == "pth":
        return load_pth(path, target, verify=verify)
    if fmt == "safetensors":
        return load_safetensors(path, target)
    if fmt == "unknown":
        raise CheckpointError(
            f"jtorch.load: {path} is a file of unknown format (expected an Orbax directory, a "
            ".pth/.pt/.tar zip or a .safetensors file)"
        )
    tree, arrays = load_orbax(path, target)
    if tree is None:  # a plain Orbax pytree checkpoint
        return arrays
    return Decoder(arrays, trust, resolve=resolve).decode_root(tree, path)


def is_checkpoint(path: str | os.PathLike) -> bool:
    """True if `path` holds a checkpoint `load` can read."""
    path = Path(path)
    return is_orbax_checkpoint(path) or (path.is_file() and detect_format(path) != "unknown")
