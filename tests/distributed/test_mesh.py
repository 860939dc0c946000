"""DDP, SyncBatchNorm, FSDP and DataParallel on 4 simulated CPU devices, against one device and
torch. The checks live in `_mesh_checks.py` and run together in one subprocess (the device count
is fixed when JAX starts); each check is reported as its own test here."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jtorch
from jtorch import nn
from jtorch.distributed import checkpoint as dcp

pytest.importorskip("torch")

HERE = Path(__file__).parent
SCRIPT = HERE / "_mesh_checks.py"
# read, not imported: importing it would give this process 4 devices
CHECKS = re.findall(r"^def check_(\w+)\(", SCRIPT.read_text(), flags=re.M)

TIMEOUT_S = 300


def mlp():
    """The MLP of `_mesh_checks.py`, on this process's one device."""
    jtorch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5))


@pytest.fixture(scope="module")
def ckpt_dir(tmp_path_factory):
    """A checkpoint written here on 1 device for the 4-device process to restore."""
    root = tmp_path_factory.mktemp("ckpt")
    state = mlp().state_dict()
    dcp.save(state, root / "one")
    np.savez(root / "one.npz", **{k: np.asarray(v) for k, v in state.items()})
    return root


@pytest.fixture(scope="module")
def results(ckpt_dir):
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JTORCH_TEST_CKPT_DIR": str(ckpt_dir)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    lines = {}
    for line in done.stdout.splitlines():
        status, _, rest = line.partition(" ")
        if status in ("PASS", "FAIL"):
            name, _, reason = rest.partition(":")
            lines[name] = (status, reason)
    return lines, done.stderr[-3000:]


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_on_four_devices(results, name):
    lines, stderr = results
    assert name in lines, f"check {name} did not report; stderr:\n{stderr}"
    status, reason = lines[name]
    assert status == "PASS", reason


def test_four_device_checkpoint_restores_on_one(results, ckpt_dir):
    """What the 4-device process saved from FSDP shards loads here onto one device, exactly."""
    lines, stderr = results
    assert lines.get("checkpoint_across_device_counts", ("",))[0] == "PASS", stderr
    model = mlp()
    loaded = dcp.load(model.state_dict(), ckpt_dir / "four")
    expected = np.load(ckpt_dir / "four.npz")
    for k, v in loaded.items():
        assert len(v.sharding.device_set) == 1, (k, v.sharding)
        np.testing.assert_array_equal(np.asarray(v), expected[k], err_msg=k)
    model.load_state_dict(loaded)
