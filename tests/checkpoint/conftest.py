"""Shared helpers for the checkpoint tests."""

import os
import subprocess
import sys

import numpy as np
import pytest

import jtorch

# the fresh interpreter imports the jtorch under test, not whichever one is installed
_SOURCES = os.path.dirname(os.path.dirname(os.path.abspath(jtorch.__file__)))


def run_python(code: str, cwd: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter (CPU JAX) and return the finished process."""
    path = os.pathsep.join(p for p in (_SOURCES, os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=path)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_same_tree(a, b):
    """Exact equality of nested containers, including container types, key order and dtypes."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same_tree(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_tree(x, y)
    elif hasattr(a, "shape"):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


@pytest.fixture
def same_tree():
    return assert_same_tree


@pytest.fixture
def python():
    return run_python
