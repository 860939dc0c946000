"""`jtorch ckpt inspect|convert|restore|diff` on real files, including failures (non-zero exit,
one-line error on stderr, no traceback)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from jtorch import nn, optim
from jtorch.cli import main


@pytest.fixture
def files(tmp_path):
    jtorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    _, grads = jtorch.value_and_grad(lambda m: jnp.sum(m(jnp.ones((1, 3)))))(model)
    opt.step(grads)
    ckpt = {
        "epoch": 7,
        "loss": 0.5,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": opt.state_dict(),
    }
    jtorch.save(ckpt, tmp_path / "ckpt")
    jtorch.save(model, tmp_path / "full")
    jtorch.save(model.state_dict(), tmp_path / "state.pth")
    return tmp_path, model


def test_inspect_text_and_json(files, capsys):
    tmp_path, model = files
    assert main(["ckpt", "inspect", str(tmp_path / "ckpt")]) == 0
    out = capsys.readouterr().out
    assert "format:  orbax" in out and "model_state_dict.0.weight" in out and "(4, 3)" in out
    assert "total parameters: 26" in out and "epoch: 7" in out and "momentum_buffer" in out
    assert main(["ckpt", "inspect", "--json", str(tmp_path / "ckpt")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total_parameters"] == 26
    assert report["metadata"] == {"epoch": 7, "loss": 0.5}
    rows = {r["key"]: r for r in report["arrays"]}
    assert rows["model_state_dict.0.weight"] == {
        "key": "model_state_dict.0.weight", "shape": [4, 3], "dtype": "float32", "size": 12,
    }  # fmt: skip
    summary = report["optimizers"]["optimizer_state_dict"]
    assert summary["param_states"] == 4 and summary["state_keys"] == ["momentum_buffer"]
    assert summary["param_groups"][0]["lr"] == 0.01
    assert main(["ckpt", "inspect", str(tmp_path / "full")]) == 0
    assert "full model (Sequential)" in capsys.readouterr().out


def test_convert_between_formats_and_diff(files, capsys):
    tmp_path, model = files
    st = str(tmp_path / "state.safetensors")
    back = str(tmp_path / "back")
    assert main(["ckpt", "convert", str(tmp_path / "state.pth"), st]) == 0
    assert main(["ckpt", "convert", st, back]) == 0
    capsys.readouterr()
    assert main(["ckpt", "diff", str(tmp_path / "state.pth"), back]) == 0
    assert "identical" in capsys.readouterr().out
    other = dict(model.state_dict())
    other["2.weight"] = other["2.weight"] + 0.5
    other["extra"] = jnp.ones(1)
    del other["0.bias"]
    other["2.bias"] = jnp.zeros(3)
    jtorch.save(other, tmp_path / "other.pth")
    assert (
        main(["ckpt", "diff", "--json", str(tmp_path / "state.pth"), str(tmp_path / "other.pth")])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["missing_keys"] == ["0.bias"] and report["unexpected_keys"] == ["extra"]
    assert report["shape_changes"] == {"2.bias": [[2], [3]]}
    assert report["max_abs_diff"]["2.weight"] == pytest.approx(0.5)
    assert report["max_abs_diff"]["0.weight"] == 0.0


def test_restore_runs_a_forward(files, capsys):
    tmp_path, model = files
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    args = ["ckpt", "restore", str(tmp_path / "full"), "--input", str(tmp_path / "x.npy")]
    assert main(args + ["--output", str(tmp_path / "y.npy")]) == 0
    out = capsys.readouterr().out
    assert "Linear(in_features=3, out_features=4, bias=True)" in out
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), np.asarray(model(jnp.asarray(x))))


@pytest.mark.parametrize(
    "argv,message",
    [
        (["ckpt", "inspect", "{tmp}/missing"], "no such checkpoint"),
        (["ckpt", "inspect", "{tmp}/garbage.pth"], "not a PyTorch zip checkpoint"),
        (["ckpt", "restore", "{tmp}/state.pth"], "not a full model"),
        (["ckpt", "convert", "{tmp}/full", "{tmp}/full.pth"], "full model"),
        (["ckpt", "diff", "{tmp}/ckpt", "{tmp}/nothing.pth"], "no such checkpoint"),
    ],
)
def test_failures_exit_nonzero_with_one_line(files, capsys, argv, message):
    tmp_path, _ = files
    (tmp_path / "garbage.pth").write_bytes(b"garbage" * 20)
    assert main([a.format(tmp=tmp_path) for a in argv]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_console_script(files):
    tmp_path, _ = files
    script = Path(sys.executable).parent / "jtorch"
    command = [str(script)] if script.exists() else [shutil.which("jtorch") or "jtorch"]
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    done = subprocess.run(
        command + ["ckpt", "inspect", str(tmp_path / "state.pth")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "0.weight" in done.stdout and "total parameters: 26" in done.stdout
    done = subprocess.run(
        command + ["ckpt", "inspect", str(tmp_path / "nope")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
