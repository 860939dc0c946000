"""`jtorch._backend.internals`: each wrapped dependency internal still works, and no other file
of the package names a private attribute of a dependency.

When a Flax or Orbax release changes one of these internals, a test here fails with its name,
instead of a training step misbehaving somewhere else.
"""

from __future__ import annotations

import re
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import nnx

import jtorch
from jtorch import nn
from jtorch._backend import internals

SRC = Path(__file__).resolve().parents[1] / "src" / "jtorch"
INTERNALS = SRC / "_backend" / "internals.py"

# Private names of dependencies: attributes with a leading underscore reached on a dependency's
# module or class, private submodules, and the internal attributes jtorch is known to rely on.
_DEPENDENCY = r"(?:jax|jnp|lax|jaxlib|flax|nnx|pytreelib|optax|orbax|ocp|type_handlers)"
PRIVATE = [
    re.compile(rf"\b{_DEPENDENCY}\.(_[A-Za-z]\w*)"),
    re.compile(r"\b(?:from|import)\s+(?:jax|jaxlib|flax|optax|orbax)[\w.]*\._\w+"),
    re.compile(r"\b_raw_value\b|\b_pytree__|def _finalize\b|\bpytreelib\b"),
]


def test_no_file_but_internals_names_a_private_dependency_attribute():
    hits = []
    for path in sorted(SRC.rglob("*.py")):
        if path == INTERNALS:
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if any(p.search(line) for p in PRIVATE):
                hits.append(f"{path.relative_to(SRC.parent)}:{lineno}: {line.strip()}")
    assert not hits, "private dependency names outside _backend/internals.py:\n" + "\n".join(hits)


def test_the_pattern_catches_the_known_forms():
    for line in (
        'object.__setattr__(v, "_raw_value", x)',
        "from flax.nnx import pytreelib",
        "from jax._src import core",
        "x = nnx._graph_internal",
        "    def _finalize(self, step, steps):",
    ):
        assert any(p.search(line) for p in PRIVATE), line


def test_store_arrays_and_swap_arrays_reach_the_variables():
    params = [nn.Parameter(jnp.zeros(3)), nn.Parameter(jnp.zeros(2))]
    internals.store_arrays(params, [jnp.ones(3), jnp.full(2, 2.0)])
    np.testing.assert_array_equal(params[0].value, np.ones(3))
    np.testing.assert_array_equal(params[1].value, np.full(2, 2.0))
    old = internals.swap_arrays(params, [jnp.zeros(3), jnp.zeros(2)])
    np.testing.assert_array_equal(params[1].value, np.zeros(2))
    np.testing.assert_array_equal(old[1], np.full(2, 2.0))
    new = jnp.full(2, 5.0)
    internals.store_arrays(params, [jnp.zeros(3), new])
    assert params[1].get_raw_value() is new  # the slot written is the one NNX reads


def test_blank_nnx_object_builds_a_working_module():
    obj = internals.blank_nnx_object(nn.Linear)
    nn.Module.__init__(obj)
    obj.weight = nn.Parameter(jnp.ones((2, 3)))
    obj.bias = nn.Parameter(jnp.zeros(2))
    obj.in_features, obj.out_features = 3, 2
    assert list(obj.state_dict()) == ["weight", "bias"]
    np.testing.assert_allclose(obj(jnp.ones((1, 3))), np.full((1, 2), 3.0))
    graphdef, state = nnx.split(obj)  # NNX's own bookkeeping accepts it
    assert len(nnx.to_flat_state(state)) == 2


def test_nnx_bookkeeping_names_are_recognised():
    module = nn.Linear(2, 2)
    nnx_names = [n for n in vars(module) if n.startswith("_") and not n.startswith("_jt_")]
    assert nnx_names, "NNX keeps no bookkeeping attributes any more: revisit is_nnx_bookkeeping"
    assert all(internals.is_nnx_bookkeeping(n) for n in nnx_names), nnx_names


def test_orbax_commit_hook_runs_before_old_steps_are_deleted(tmp_path):
    import orbax.checkpoint as ocp

    seen = []

    def hook(manager, step):
        seen.append((step, sorted(p.name for p in tmp_path.iterdir() if p.name.isdigit())))

    # synchronous saves, as jtorch's CheckpointManager makes them
    options = ocp.CheckpointManagerOptions(max_to_keep=1, enable_async_checkpointing=False)
    manager = internals.on_orbax_commit(ocp.CheckpointManager, hook)(tmp_path, options=options)
    for step in range(2):
        manager.save(step, args=ocp.args.StandardSave({"x": jnp.full(2, float(step))}))
        manager.wait_until_finished()
    manager.close()
    # each hook ran after its step was renamed into place and before older steps were deleted
    assert seen == [(0, ["0"]), (1, ["0", "1"])]
    assert jtorch  # the package imports with the internals in place
