"""DDP, SyncBatchNorm, FSDP and DataParallel on 4 simulated CPU devices, against one device and
torch. The checks live in `_mesh_checks.py` and run together in one subprocess (the device count
is fixed when JAX starts); each check is reported as its own test here."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

HERE = Path(__file__).parent
SCRIPT = HERE / "_mesh_checks.py"
# read, not imported: importing it would give this process 4 devices
CHECKS = re.findall(r"^def check_(\w+)\(", SCRIPT.read_text(), flags=re.M)

TIMEOUT_S = 300


@pytest.fixture(scope="module")
def results():
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
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
