"""`jtorch train --devices N` refuses a batch size that does not split over the devices (that it
trains like one device is checked on 4 devices in `_mesh_checks.py`)."""

from jtorch.cli import main

ARGS = ["train", "--model", "mlp", "--epochs", "1", "--limit", "200", "--augment", "0", "--quiet"]


def test_batch_that_does_not_split_is_refused(tmp_path, capsys):
    assert main([*ARGS, "--devices", "3", "--output-dir", str(tmp_path)]) == 1
    assert "--batch-size 32 does not split over --devices 3" in capsys.readouterr().err
