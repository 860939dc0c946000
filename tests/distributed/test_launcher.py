"""`jtorch run --nproc-per-node 2` on localhost: two ranks train like one process, and a failing
rank makes the launcher exit non-zero naming it. Each run is bounded by a timeout."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import jtorch
from jtorch.distributed import checkpoint as dcp
from jtorch.distributed import run as launcher

HERE = Path(__file__).parent
SCRIPT = HERE / "_two_process_script.py"
sys.path.insert(0, str(HERE))
from _two_process_script import train  # noqa: E402

sys.path.remove(str(HERE))
TIMEOUT_S = 240
RTOL = 1e-5  # float32: SyncBatchNorm's sums are reduced across two processes in another order
CLI = [sys.executable, "-c", "import sys; from jtorch.cli import main; sys.exit(main())"]


def _run(command):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    for name in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(name, None)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


def _result(done):
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, done.stdout  # rank 0 alone prints
    return json.loads(lines[0])


def test_two_ranks_train_like_one_process(tmp_path):
    """Losses equal one process's; the checkpoints both ranks wrote restore here, on 1 device."""
    ckpt, pth, managed = tmp_path / "two_ranks", tmp_path / "rank0.pth", tmp_path / "managed"
    command = [*CLI, "run", "--nproc-per-node", "2", str(SCRIPT), "--save", str(ckpt)]
    double = _result(_run([*command, "--save-pth", str(pth), "--manager", str(managed)]))
    assert double["world"] == 2
    # collectives outside the step, of rank + 1 (or rank) on ranks 0 and 1
    assert (double["rank_sum"], double["rank_max"]) == (3.0, 2.0)
    assert double["broadcast_from_1"] == [0, 2, 4]
    assert double["all_gather"] == [[0, 0], [1, 1]]
    losses, model, optimizer, _ = train(0, 1)  # here: one process, one device
    assert double["losses"] == pytest.approx(losses, rel=RTOL)
    expected = model.module.state_dict()
    restored = dcp.load(expected, ckpt)
    assert list(restored) == list(expected)
    for key, value in restored.items():
        assert len(value.sharding.device_set) == 1, (key, value.sharding)
        np.testing.assert_allclose(value, expected[key], rtol=RTOL, atol=1e-6, err_msg=key)
    # rank 0's own .pth file (its replica of the replicated state) holds the same values
    single = jtorch.load(pth)
    assert list(single) == list(expected)
    for key, value in single.items():
        np.testing.assert_allclose(value, expected[key], rtol=RTOL, atol=1e-6, err_msg=key)
    # CheckpointManager across the two ranks: retention, extra (rank 0's), a restore that keeps
    # the arrays over both processes and continues exactly; here it restores onto one device
    manager = double["manager"]
    assert manager["steps"] == [2, 3] and manager["extra"] == {"rank": 0}
    assert manager["spans_processes"]
    assert manager["restored_next_loss"] == manager["next_loss"]
    _, fresh, fresh_optimizer, _ = train(0, 1, steps=1)
    with jtorch.checkpoint.CheckpointManager(managed) as one_process:
        one_process.restore("latest", fresh, fresh_optimizer)
    for key, value in fresh.state_dict().items():
        np.testing.assert_allclose(
            value, model.state_dict()[key], rtol=RTOL, atol=1e-6, err_msg=key
        )
    for index, entry in fresh_optimizer.state_dict()["state"].items():
        for name, value in entry.items():
            want = optimizer.state_dict()["state"][index][name]
            np.testing.assert_allclose(value, want, rtol=1e-4, atol=1e-6, err_msg=name)


def test_failing_rank_is_named_and_stops_the_others():
    done = _run(
        [sys.executable, "-m", "jtorch.distributed.run", "--nproc-per-node", "2", str(SCRIPT)]
        + ["--fail-rank", "1"]
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert "rank 1 (pid" in done.stderr and "failed with exit code 1" in done.stderr, done.stderr


def test_bad_process_count_is_refused():
    with pytest.raises(ValueError, match="--nproc-per-node.*got 0"):
        launcher.launch(str(SCRIPT), nproc_per_node=0)


SLEEPER = """
import os, sys, time
with open(os.path.join(sys.argv[1], os.environ["RANK"]), "w") as f:
    f.write(str(os.getpid()))
time.sleep(120)
"""


def test_sigterm_reaches_every_rank(tmp_path):
    """SIGTERM to the launcher is passed to both ranks; it exits with 128 + SIGTERM."""
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jtorch.distributed.run", "--nproc-per-node", "2", str(script)]
        + [str(tmp_path)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pid_files = [tmp_path / "0", tmp_path / "1"]
        deadline = time.monotonic() + TIMEOUT_S
        while not all(f.exists() and f.read_text() for f in pid_files):
            assert proc.poll() is None and time.monotonic() < deadline, "ranks did not start"
            time.sleep(0.1)
        pids = [int(f.read_text()) for f in pid_files]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT_S) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
