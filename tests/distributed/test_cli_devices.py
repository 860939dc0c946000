"""`jtorch train --devices N`: the main job data-parallel over N (simulated CPU) devices trains
like one device."""

import json
import os
import subprocess
import sys

import pytest

from jtorch.cli import main

ARGS = ["train", "--model", "mlp", "--epochs", "1", "--limit", "200", "--augment", "0", "--quiet"]
RTOL = 1e-5  # float32: the batch's loss and gradients are summed across devices in another order
TIMEOUT_S = 240


def _history(run_dir):
    return json.loads((run_dir / "history.json").read_text())["history"]


def test_two_devices_train_like_one(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert main([*ARGS, "--output-dir", str(tmp_path), "--name", "one"]) == 0
    code = "import sys; from jtorch.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, *ARGS, "--devices", "2"]
        + ["--output-dir", str(tmp_path), "--name", "two"],
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = _history(one), _history(two)
    for key in ("train_loss", "val_loss", "val_accuracy"):
        assert b[key] == pytest.approx(a[key], rel=RTOL), key


def test_batch_that_does_not_split_is_refused(tmp_path, capsys):
    assert main([*ARGS, "--devices", "3", "--output-dir", str(tmp_path)]) == 1
    assert "--batch-size 32 does not split over --devices 3" in capsys.readouterr().err
