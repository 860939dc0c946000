"""Build the optional oneDNN convolution extension (jtorch._backend._onednn_conv).

Metadata lives in pyproject.toml; this file only adds the C++ extension. The extension is
optional: when oneDNN's headers/library (the `onednn-devel-cpu-gomp` wheel), jaxlib's XLA FFI
headers or a C++17 compiler are missing, or the build fails, the package installs without it
and convolutions run on XLA. Set JTORCH_BUILD_ONEDNN=0 to skip it, JTORCH_ONEDNN_ROOT=<prefix>
to use a oneDNN installed elsewhere (<prefix>/include, <prefix>/lib).
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import sys
from pathlib import Path

from setuptools import Extension, setup


def _warn(msg: str) -> None:
    print(f"jtorch setup: {msg}; convolutions will run on XLA", file=sys.stderr)


def _dist_dir(dist: str, suffix: str) -> Path | None:
    """The directory D such that D/suffix is a file installed by `dist`."""
    try:
        files = md.distribution(dist).files or []
    except md.PackageNotFoundError:
        return None
    for f in files:
        if ("/" + str(f).replace("\\", "/")).endswith("/" + suffix):
            path = Path(md.distribution(dist).locate_file(f)).resolve()
            return path.parents[suffix.count("/")]
    return None


def _onednn_dirs() -> tuple[Path, Path] | None:
    root = os.environ.get("JTORCH_ONEDNN_ROOT")
    if root:
        return Path(root) / "include", Path(root) / "lib"
    inc = _dist_dir("onednn-devel-cpu-gomp", "oneapi/dnnl/dnnl.hpp")
    lib = _dist_dir("onednn-cpu-gomp", "libdnnl.so")
    if inc is None or lib is None:
        return None
    return inc, lib


def _extensions() -> list[Extension]:
    if os.environ.get("JTORCH_BUILD_ONEDNN", "1") == "0" or not sys.platform.startswith("linux"):
        return []
    dirs = _onednn_dirs()
    if dirs is None:
        _warn("oneDNN (onednn-devel-cpu-gomp) not found")
        return []
    spec = importlib.util.find_spec("jaxlib")
    if spec is None or not spec.submodule_search_locations:
        _warn("jaxlib (XLA FFI headers) not found")
        return []
    ffi_inc = Path(list(spec.submodule_search_locations)[0]) / "include"
    inc, lib = dirs
    return [
        Extension(
            "jtorch._backend._onednn_conv",
            sources=["csrc/onednn_conv.cc", "csrc/channel_stats.cc"],
            include_dirs=[str(inc), str(ffi_inc)],
            library_dirs=[str(lib)],
            libraries=["dnnl"],
            extra_compile_args=["-std=c++17", "-O2", "-fopenmp"],
            extra_link_args=["-fopenmp"],
            language="c++",
            optional=True,
        )
    ]


setup(ext_modules=_extensions())
