"""The native library: load `_onednn_conv*.so`, register its XLA FFI targets, apply its settings.

The C++ side (csrc/onednn_conv.cc and csrc/channel_stats.cc, built at install time when oneDNN
is available) holds the oneDNN convolutions and BatchNorm's channel sums, registered here for
the CPU platform only. Settings read once, at load:
- `JTORCH_ONEDNN_THREADS=<n>`: oneDNN's thread count (default: the CPUs this process may run
  on, the size of XLA's CPU intra-op pool).
- `JTORCH_ONEDNN_BLOCKED`: layouts inside the primitives. 0: torch's plain layouts; 1: oneDNN
  picks its blocked layouts, data are reordered at the boundary; 2 (default): a fixed rule,
  plain for strided convolutions of inputs with fewer than 4 channels, blocked otherwise;
  3: measured, the first call of each convolution shape times both and keeps the faster
  (neither wins everywhere: LeNet's 1-channel 5×5 conv is ~30× faster blocked, AlexNet's
  1-channel 11×11/4 conv ~8× faster plain). The default is deterministic: a measured choice
  can differ between runs, and so would the rounding of the results.
- `JTORCH_CPU_CONV=xla` turns the native kernels off (`enabled()` is then False).
"""

from __future__ import annotations

import ctypes
import importlib.metadata as md
import os
import platform
import sys
import warnings
from pathlib import Path

__all__ = ["available", "enabled", "load_error"]

_TARGETS = (
    "onednn_conv_fwd",
    "onednn_conv_bwd_data",
    "onednn_conv_bwd_weights",
    "onednn_conv_bwd",
    "channel_moments",  # csrc/channel_stats.cc, see jtorch._backend.channel_stats
    "channel_grad_sums",
)
_state: dict = {}


def _preload_dnnl() -> None:
    """Load libdnnl.so.3 from the `onednn-cpu-gomp` wheel globally, so the extension links."""
    try:
        files = md.distribution("onednn-cpu-gomp").files or []
    except md.PackageNotFoundError:
        return  # maybe on the loader's path (JTORCH_ONEDNN_ROOT builds, system installs)
    for f in files:
        if f.name == "libdnnl.so.3":
            path = md.distribution("onednn-cpu-gomp").locate_file(f)
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
            return


def _load() -> ctypes.CDLL | None:
    """Load the extension and register its FFI targets once; remember why if it fails."""
    if "lib" in _state:
        return _state["lib"]
    import jax  # here, not at import time: loading the library is the first use of JAX's FFI

    lib = None
    try:
        found = sorted(Path(__file__).parent.glob("_onednn_conv*.so"))
        if not found:
            raise ImportError("the extension _onednn_conv was not built")
        _preload_dnnl()
        lib = ctypes.CDLL(str(found[0]))
        for name in _TARGETS:
            fn = getattr(lib, f"jtorch_{name}")
            jax.ffi.register_ffi_target(f"jtorch_{name}", jax.ffi.pycapsule(fn), platform="cpu")
        threads = int(os.environ.get("JTORCH_ONEDNN_THREADS", "0")) or _cpu_count()
        lib.jtorch_onednn_set_threads(threads)
        lib.jtorch_onednn_set_blocked(int(os.environ.get("JTORCH_ONEDNN_BLOCKED", "2")))
    except (OSError, ImportError, AttributeError, ValueError) as err:
        _state["error"] = f"{type(err).__name__}: {err}"
        lib = None
    _state["lib"] = lib
    return lib


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def available() -> bool:
    """True when the extension is built and its FFI targets are registered."""
    return _load() is not None


def load_error() -> str | None:
    """Why the extension did not load (None when it did)."""
    _load()
    return _state.get("error")


def _expected() -> bool:
    """Whether an install here should have built the extension (Linux on x86-64)."""
    return sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")


def enabled() -> bool:
    """Whether computations lowered for the CPU use the native kernels: the extension loaded
    and `JTORCH_CPU_CONV` is not 'xla'. Warns once when the extension was expected on this
    platform but did not load."""
    if os.environ.get("JTORCH_CPU_CONV", "").lower() == "xla":
        return False
    if available():
        return True
    if _expected() and not _state.get("warned"):
        _state["warned"] = True
        warnings.warn(
            f"jtorch: oneDNN convolutions unavailable ({_state.get('error')}); "
            "using XLA's convolution on the CPU (set JTORCH_CPU_CONV=xla to silence this)",
            RuntimeWarning,
            stacklevel=3,
        )
    return False
