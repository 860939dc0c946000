"""`jtorch train` trains, keeps the best checkpoint, and `jtorch ckpt restore --eval` reproduces
the test accuracy it printed."""

import json
import re

from jtorch.cli import main


def test_train_then_restore_reports_the_same_accuracy(tmp_path, capsys):
    args = ["train", "--epochs", "2", "--limit", "600", "--output-dir", str(tmp_path)]
    status = main([*args, "--name", "run", "--quiet"])
    assert status == 0
    trained = capsys.readouterr().out
    accuracy = re.search(r"test accuracy: (\d\.\d+)", trained).group(1)
    run = tmp_path / "run"
    assert (run / "curves.png").stat().st_size > 0 and (run / "best").is_dir()
    summary = json.loads((run / "history.json").read_text())
    assert len(summary["history"]["train_loss"]) == 2 and summary["test_accuracy"] > 0.3

    assert main(["ckpt", "restore", str(run / "best"), "--eval", "digits"]) == 0
    restored = capsys.readouterr().out
    assert restored.startswith("LeNet(")
    # --limit 600 keeps all 359 test images, so both runs evaluate the same set
    assert re.search(r"test accuracy: (\d\.\d+)", restored).group(1) == accuracy


def test_unknown_optimizer_is_a_one_line_error(tmp_path, capsys):
    assert main(["train", "--optimizer", "nope", "--output-dir", str(tmp_path)]) != 0
