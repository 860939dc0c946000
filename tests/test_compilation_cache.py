"""The persistent compilation cache: a second process compiling the same step loads it from
disk (JAX's cache-hit event fires), and JTORCH_COMPILATION_CACHE=0 keeps it off."""

from __future__ import annotations

import os
import subprocess
import sys

_STEP = r"""
import sys
import jax
from jax import monitoring
import jtorch
from jtorch import nn, optim

hits = []
monitoring.register_event_listener(
    lambda event, **kw: hits.append(event) if event.endswith("cache_hits") else None
)
print("dir", jtorch.enable_compilation_cache(sys.argv[1] if len(sys.argv) > 1 else None))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)  # cache even fast programs
jtorch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
opt = optim.SGD(model.parameters(), lr=0.1)

@jtorch.jit
def step(model, opt, x):
    loss, grads = jtorch.value_and_grad(lambda m: (m(x) ** 2).mean())(model)
    opt.step(grads)
    return loss

x = jtorch.ones(4, 8)
before = len(hits)  # eager ops may recompile a program already on disk; count the step only
print("loss", float(step(model, opt, x)))
print("hits", len(hits) - before)
"""


def _run(*args, env=None):
    proc = subprocess.run(
        [sys.executable, "-c", _STEP, *args],
        capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(line.split(" ", 1) for line in proc.stdout.splitlines())


def test_second_process_loads_the_step_from_the_cache(tmp_path):
    first = _run(str(tmp_path))
    assert first["dir"] == str(tmp_path) and first["hits"] == "0"
    assert any(tmp_path.iterdir()), "nothing was written to the cache directory"
    second = _run(str(tmp_path))
    assert int(second["hits"]) >= 1
    assert second["loss"] == first["loss"]  # the cached program gives the same bits


def test_environment_switch_keeps_the_cache_off(tmp_path):
    out = _run(env={"JTORCH_COMPILATION_CACHE": "0", "XDG_CACHE_HOME": str(tmp_path)})
    assert out["dir"] == "None"
    assert not (tmp_path / "jtorch").exists()
