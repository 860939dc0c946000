"""PyTorch .pth interop: torch-written files load without torch; jtorch-written files load in
torch with weights_only=True; malicious pickles are refused without running anything.
Expected values come from torch in the test; comparisons are exact (same bits)."""

import pickle
import zipfile

import jax.numpy as jnp
import numpy as np
import pytest

import jtorch

torch = pytest.importorskip("torch")


def _torch_checkpoint():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(2, 3, 8, 8)).sum().backward()
    opt.step()
    base = torch.arange(20.0).reshape(4, 5)
    return {
        "epoch": 4,
        "loss": 0.5,
        "model_state_dict": net.state_dict(),
        "optimizer_state_dict": opt.state_dict(),
        "view": base[1:, ::2],  # non-contiguous view sharing a storage
        "base": base,
        "half": torch.ones(3, dtype=torch.bfloat16),
        "param": torch.nn.Parameter(torch.ones(2)),
        "size": torch.Size([2, 3]),
    }


def test_torch_written_pth_loads_without_importing_torch(tmp_path, python):
    ckpt = _torch_checkpoint()
    torch.save(ckpt, tmp_path / "t.pth")
    torch.save(ckpt["model_state_dict"], tmp_path / "sd.pt")
    np.savez(
        tmp_path / "expected.npz",
        **{f"m.{k}": v.numpy() for k, v in ckpt["model_state_dict"].items()},
        view=ckpt["view"].numpy(),
        momentum=ckpt["optimizer_state_dict"]["state"][0]["momentum_buffer"].numpy(),
    )
    code = """
import sys, numpy as np, jtorch
ck = jtorch.load("t.pth")
sd = jtorch.load("sd.pt", map_location="cpu")
exp = np.load("expected.npz")
for k, v in ck["model_state_dict"].items():
    assert np.array_equal(np.asarray(v), exp["m." + k]), k
    assert np.array_equal(np.asarray(sd[k]), exp["m." + k]), k
assert list(sd) == list(ck["model_state_dict"])
assert np.array_equal(np.asarray(ck["view"]), exp["view"])
mom = ck["optimizer_state_dict"]["state"][0]["momentum_buffer"]
assert np.array_equal(np.asarray(mom), exp["momentum"])
assert ck["epoch"] == 4 and ck["loss"] == 0.5 and ck["size"] == (2, 3)
assert ck["optimizer_state_dict"]["param_groups"][0]["momentum"] == 0.9
assert str(ck["half"].dtype) == "bfloat16"
assert "torch" not in sys.modules, "torch was imported"
print("ok")
"""
    done = python(code, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ok" in done.stdout


def test_jtorch_written_pth_loads_in_torch_weights_only(tmp_path):
    from jtorch import nn, optim

    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    _, grads = jtorch.value_and_grad(lambda m: jnp.sum(m(jnp.ones((2, 3)))))(model)
    opt.step(grads)
    ckpt = {
        "epoch": 3,
        "loss": 0.25,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": opt.state_dict(),
        "half": jnp.ones(2, jnp.bfloat16),
        "scalar": jnp.asarray(2.5),
        "tied": (model[0].weight.value, model[0].weight.value),
    }
    jtorch.save(ckpt, tmp_path / "j.pth")
    loaded = torch.load(tmp_path / "j.pth", weights_only=True)
    assert loaded["epoch"] == 3 and loaded["loss"] == 0.25
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded["model_state_dict"][key].numpy(), np.asarray(value))
    assert list(loaded["model_state_dict"]) == list(model.state_dict())
    assert loaded["half"].dtype == torch.bfloat16 and loaded["scalar"].shape == ()
    assert loaded["tied"][0].data_ptr() == loaded["tied"][1].data_ptr()
    # torch can load the state_dict into its own model with the same names
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    tmodel.load_state_dict(loaded["model_state_dict"])
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    topt.load_state_dict(loaded["optimizer_state_dict"])
    # and the file's records are where torch puts them
    names = zipfile.ZipFile(tmp_path / "j.pth").namelist()
    assert names[0] == "j/data.pkl" and "j/version" in names and "j/byteorder" in names


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("wrap", ["zip", "nested"])
def test_malicious_pickle_is_refused_and_does_not_run(tmp_path, wrap):
    marker = tmp_path / "pwned"
    payload = {"weights": torch.ones(2), "x": _Evil(marker)} if wrap == "nested" else _Evil(marker)
    # torch.save pickles arbitrary objects; this is what a hostile .pth looks like
    torch.save(payload, tmp_path / "evil.pth")
    with pytest.raises(pickle.UnpicklingError, match=r"(posix|os|nt)\.system"):
        jtorch.load(tmp_path / "evil.pth")
    assert not marker.exists()


def test_other_globals_are_refused_by_name(tmp_path):
    torch.save({"f": torch.nn.Linear(2, 2)}, tmp_path / "module.pth")
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.linear.Linear"):
        jtorch.load(tmp_path / "module.pth")


def test_truncated_pth_gives_a_clear_error(tmp_path):
    torch.save({"w": torch.ones(1000)}, tmp_path / "ok.pth")
    raw = (tmp_path / "ok.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(jtorch.checkpoint.CheckpointError):
        jtorch.load(tmp_path / "cut.pth")
