"""jtorch under Flax's tree mode (FLIP 5310: `graph=False` becomes NNX's default).

jtorch's modules share submodules and tie weights, which tree mode refuses, so every NNX graph
call in jtorch goes through `nnx.compat` (graph behaviour kept whatever the default). A small
train step with a tied weight, BatchNorm and Dropout, and a full-model save and load, run in a
subprocess with tree mode switched on by Flax's own flags must give the default mode's numbers.
"""

import json
import os
import subprocess
import sys

import numpy as np

TIMEOUT_S = 240
RTOL = 1e-6  # float32: the same program traced either way

SCRIPT = r"""
import json, sys
import numpy as np
import jtorch
from jtorch import nn, optim

jtorch.manual_seed(0)
shared = nn.Linear(6, 6)
model = nn.Sequential(
    shared, nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.25), shared, nn.Linear(6, 3)
)
optimizer = optim.Adam(model.parameters(), lr=0.01)
criterion = nn.CrossEntropyLoss()

@jtorch.jit
def train_step(model, optimizer, x, y):
    loss, grads = jtorch.value_and_grad(lambda m: criterion(m(x), y))(model)
    optimizer.step(grads)
    return loss

rng = np.random.default_rng(0)
losses = []
for _ in range(3):
    x = rng.standard_normal((8, 6), dtype=np.float32)
    y = rng.integers(0, 3, 8).astype(np.int32)
    losses.append(float(train_step(model, optimizer, x, y)))
jtorch.save(model, sys.argv[1])
back = jtorch.load(sys.argv[1], weights_only=False)
assert back[0] is back[4], "the shared Linear came back as two modules"
print(json.dumps({
    "losses": losses,
    "weight": np.asarray(back[0].weight).tolist(),
    "running_mean": np.asarray(back[1].running_mean).tolist(),
}))
"""


def _run(tmp_path, name, tree_mode):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    for flag in ("NNX_GRAPH_MODE", "NNX_GRAPH_UPDATES"):
        env[flag] = "0" if tree_mode else "1"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / name)],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_tree_mode_trains_and_checkpoints_like_graph_mode(tmp_path):
    graph = _run(tmp_path, "graph", tree_mode=False)
    tree = _run(tmp_path, "tree", tree_mode=True)
    for key in graph:
        np.testing.assert_allclose(tree[key], graph[key], rtol=RTOL, err_msg=key)


def test_the_tree_mode_flags_reach_flax():
    """Guards the test above: Flax reads these environment variables (a renamed flag would
    make it compare graph mode with itself)."""
    code = "from flax import config; print(config.nnx_graph_mode, config.nnx_graph_updates)"
    env = {**os.environ, "NNX_GRAPH_MODE": "0", "NNX_GRAPH_UPDATES": "0"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    assert done.stdout.split() == ["False", "False"], done.stderr[-2000:]
