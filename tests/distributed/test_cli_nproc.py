"""`jtorch train --nproc-per-node 2`: two localhost ranks train one DDP model, and the launching
process writes the full-model checkpoint from their best state and evaluates it. That DDP over
processes trains like one process is checked in `test_launcher.py`; here, the main job's path.
"""

import json
import os
import subprocess
import sys

import pytest

import jtorch
from jtorch.cli import main
from jtorch.cli.train import evaluate_model

TIMEOUT_S = 300
CLI = [sys.executable, "-c", "import sys; from jtorch.cli import main; sys.exit(main())"]
ARGS = ["train", "--model", "mlp", "--limit", "400", "--augment", "0", "--quiet"]


def test_two_ranks_train_and_the_launcher_keeps_their_best_model(tmp_path):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    for name in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(name, None)
    command = [*CLI, *ARGS, "--epochs", "3", "--nproc-per-node", "2", "--name", "two"]
    done = subprocess.run(
        [*command, "--output-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "two"
    summary = json.loads((run_dir / "history.json").read_text())
    assert len(summary["history"]["train_loss"]) == 3
    assert summary["best_epoch"] in (1, 2, 3)
    assert summary["val_accuracy"] > 0.3  # it learned: chance is 0.1 on the ten digits
    assert not (run_dir / ".ranks").exists()  # the ranks' hand-over is cleaned up
    assert done.stdout.count("test accuracy:") == 1  # evaluated once, by the launching process
    # the checkpoint left behind is the model that was evaluated
    result = evaluate_model(jtorch.load(run_dir / "best"), "digits", limit=400)
    assert result["accuracy"] == pytest.approx(summary["test_accuracy"], abs=1e-6)


def test_devices_and_processes_together_are_refused(tmp_path, capsys):
    args = [*ARGS, "--epochs", "1", "--output-dir", str(tmp_path)]
    assert main([*args, "--nproc-per-node", "2", "--devices", "2"]) == 1
    assert "--devices and --nproc-per-node exclude each other" in capsys.readouterr().err
    assert main([*args, "--nproc-per-node", "3"]) == 1
    assert "--batch-size 32 does not split over --nproc-per-node 3" in capsys.readouterr().err
