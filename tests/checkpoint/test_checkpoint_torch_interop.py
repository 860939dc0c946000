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


def _checked_records(path):
    """{name: bytes} of a zip whose every CRC-32 zipfile verifies; storage data 64-aligned."""
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None  # recomputes each record's CRC from the local data
        raw = path.read_bytes()
        for info in zf.infolist():
            # zipfile checks the central directory's CRC; the local header's must match it
            assert np.frombuffer(raw, "<u4", 1, info.header_offset + 14)[0] == info.CRC
            name_len, extra_len = np.frombuffer(raw, "<u2", 2, info.header_offset + 26)
            start = info.header_offset + 30 + int(name_len) + int(extra_len)
            if "/data/" in info.filename:
                assert start % 64 == 0, info.filename
        return {info.filename: zf.read(info) for info in zf.infolist()}


def test_overwritten_pth_has_correct_crcs_and_no_leftovers(tmp_path):
    from jtorch.checkpoint import torch_pth

    rng = np.random.default_rng(0)
    path = tmp_path / "w.pth"
    path.write_bytes(b"an older file that the save replaces")
    # a link that a process killed mid-replace leaves behind; the next save removes it
    (tmp_path / ".w.pth.jtorch-old-0123456789ab").write_bytes(b"stale")
    for round_ in range(2):  # the second save replaces a complete .pth
        arrays = {f"w{i}": rng.standard_normal((257, 129)).astype(np.float32) for i in range(5)}
        arrays["i"] = np.arange(7, dtype=np.int64) + round_
        jtorch.save({k: jnp.asarray(v) for k, v in arrays.items()}, path)
        _checked_records(path)
        loaded = torch.load(path, weights_only=True)
        assert list(loaded) == list(arrays)
        for key, value in arrays.items():
            np.testing.assert_array_equal(loaded[key].numpy(), value)
    torch_pth.wait_for_background_unlinks()
    assert [p.name for p in tmp_path.iterdir()] == ["w.pth"]


def test_zip64_fields_are_read_by_torch_and_zipfile(tmp_path, monkeypatch):
    from jtorch.checkpoint import _zip

    # files past 4 GiB need zip64 sizes and offsets; a tiny limit makes every record use them
    monkeypatch.setattr(_zip, "_ZIP64_LIMIT", 100)
    arrays = {"a": np.arange(300, dtype=np.float32), "b": np.ones((3, 4), np.float16)}
    jtorch.save(arrays, tmp_path / "z.pth")
    raw = (tmp_path / "z.pth").read_bytes()
    assert b"PK\x06\x06" in raw and b"PK\x06\x07" in raw  # zip64 end records
    records = _checked_records(tmp_path / "z.pth")
    assert records["z/byteorder"] == b"little"
    loaded = torch.load(tmp_path / "z.pth", weights_only=True)
    ours = jtorch.load(tmp_path / "z.pth")
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key].numpy(), value)
        np.testing.assert_array_equal(np.asarray(ours[key]), value)
