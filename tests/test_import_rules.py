"""The layering of DESIGN.md, checked on the source: maths never imports the shell or the
edges, and only the backend's door modules are imported from outside the backend.

An AST walk over every module of src/jtorch (imports inside functions included), so a new leak
fails here with the file, the line and the rule it breaks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "jtorch"

# The pure maths: layers, activations, losses, the optimizers' optax forms and their shared maths.
MATHS = [
    *sorted(SRC.glob("nn/functional/*.py")),
    *sorted(SRC.glob("optim/transforms/*.py")),
    SRC / "optim" / "_common.py",
]

# What maths must not import: the stateful shell, the compiled step, the edges, and Flax
# (NNX types belong to the shell; maths reaches state holders through a protocol).
SHELL_AND_EDGES = (
    "flax",
    "jtorch.nn.module",
    "jtorch.nn.modules",
    "jtorch.nn.containers",
    "jtorch.optim.optimizer",
    "jtorch._transforms",
    "jtorch.checkpoint",
    "jtorch.train",
    "jtorch.utils",
    "jtorch.vision",
    "jtorch.cli",
    "jtorch.distributed",
)

# The backend's doors: maths computes through `kernels`; the shell and the edges may also use
# `internals` (dependency internals) and the package's own names (`jtorch._backend`).
MATHS_DOORS = ("jtorch._backend.kernels",)
DOORS = ("jtorch._backend", "jtorch._backend.kernels", "jtorch._backend.internals")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of everything `path` imports; `from a import b` gives `a.b`."""
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return out


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _backend_target(name: str) -> str | None:
    """The backend module an import reaches (`jtorch._backend.kernels` for
    `from jtorch._backend import kernels` and `from jtorch._backend.kernels import f`)."""
    if not _under(name, "jtorch._backend"):
        return None
    parts = name.split(".")
    if len(parts) >= 3 and (SRC / "_backend" / f"{parts[2]}.py").exists():
        return ".".join(parts[:3])
    return "jtorch._backend"


def _violations(paths, rule) -> list[str]:
    return [
        f"{p.relative_to(SRC.parent)}:{line}: {name}"
        for p in paths
        for line, name in _imports(p)
        if rule(name)
    ]


def test_maths_imports_no_shell_and_no_edges():
    bad = _violations(MATHS, lambda n: any(_under(n, s) for s in SHELL_AND_EDGES))
    assert not bad, "maths imports the shell, an edge or Flax:\n" + "\n".join(bad)


def test_maths_reaches_the_backend_only_through_kernels():
    bad = _violations(
        MATHS, lambda n: _backend_target(n) is not None and _backend_target(n) not in MATHS_DOORS
    )
    assert not bad, "maths imports backend internals:\n" + "\n".join(bad)


def test_only_doors_of_the_backend_are_imported_from_outside_it():
    outside = [p for p in SRC.rglob("*.py") if SRC / "_backend" not in p.parents]
    bad = _violations(
        outside, lambda n: _backend_target(n) is not None and _backend_target(n) not in DOORS
    )
    assert not bad, "a backend module is imported past its doors:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "source,rule_breaks",
    [
        ("from jtorch._ext.onednn import _xla_conv", False),  # the old package no longer exists
        ("from jtorch._backend.onednn_conv import conv_nd", True),
        ("from flax import nnx", True),
        ("from jtorch.nn.module import Parameter", True),
        ("from jtorch._backend import kernels", False),
    ],
)
def test_the_rules_catch_the_leaks_they_name(tmp_path, source, rule_breaks):
    """The checks themselves: each leak of this kind in a maths file is reported."""
    path = tmp_path / "leak.py"
    path.write_text(source + "\n")
    names = [n for _, n in _imports(path)]
    broken = any(
        any(_under(n, s) for s in SHELL_AND_EDGES)
        or (_backend_target(n) is not None and _backend_target(n) not in MATHS_DOORS)
        for n in names
    )
    assert broken == rule_breaks
