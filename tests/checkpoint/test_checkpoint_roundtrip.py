"""jtorch.save/jtorch.load round trips for every kind of object and format, and map_location.

Expected values are the saved objects themselves: loads must give them back exactly (same
container types, key order, dtypes and bits)."""

from collections import OrderedDict

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from jtorch import nn, optim
from jtorch.checkpoint import CheckpointError


def _nested():
    rng = np.random.default_rng(0)
    return {
        "epoch": 7,
        "loss": 0.123456789,
        "lr": 1e-3,
        "nan": float("nan"),
        "name": "vgg16",
        "none": None,
        "flags": (True, False),
        "history": [1.5, 2, "x", None],
        3: "int key",
        "big": 2**70,
        "raw": b"\x00\xff",
        "model_state_dict": OrderedDict(
            [
                ("conv1.weight", jnp.asarray(rng.standard_normal((6, 3, 5, 5)), jnp.float32)),
                ("bn.num_batches_tracked", jnp.asarray(5, jnp.int32)),
                ("half", jnp.asarray(rng.standard_normal(4), jnp.bfloat16)),
                ("mask", jnp.asarray([True, False])),
            ]
        ),
        "nested": {"b": [jnp.arange(3.0), (jnp.zeros((0, 2)),)], "a": {}},
    }


def test_orbax_round_trip_keeps_every_plain_value_and_array(same_tree, tmp_path):
    obj = _nested()
    jtorch.save(obj, tmp_path / "ckpt")
    same_tree(jtorch.load(tmp_path / "ckpt"), obj)
    # overwriting an existing checkpoint replaces it
    jtorch.save({"x": jnp.ones(2)}, tmp_path / "ckpt")
    same_tree(jtorch.load(tmp_path / "ckpt"), {"x": jnp.ones(2)})


def test_pth_round_trip_keeps_plain_values_and_arrays(same_tree, tmp_path):
    obj = _nested()
    del obj["big"]  # fits pickle, but the comparison below is on the whole tree anyway
    jtorch.save(obj, tmp_path / "ckpt.pth")
    same_tree(jtorch.load(tmp_path / "ckpt.pth"), obj)


@pytest.mark.parametrize("suffix", ["", ".pth", ".safetensors"])
def test_state_dict_round_trip_loads_into_a_fresh_model(same_tree, tmp_path, suffix):
    jtorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    path = tmp_path / f"state{suffix}"
    jtorch.save(model.state_dict(), path)
    loaded = jtorch.load(path)
    same_tree(loaded, model.state_dict())
    jtorch.manual_seed(1)
    fresh = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    fresh.load_state_dict(loaded)
    x = jnp.ones((3, 4))
    np.testing.assert_array_equal(np.asarray(fresh(x)), np.asarray(model(x)))


def test_optimizer_and_scheduler_save_their_state_dicts(same_tree, tmp_path):
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss, grads = jtorch.value_and_grad(lambda m: jnp.sum(m(jnp.ones((2, 3))) ** 2))(model)
    opt.step(grads)
    for suffix in ("", ".pth"):
        jtorch.save(opt, tmp_path / f"opt{suffix}")
        same_tree(jtorch.load(tmp_path / f"opt{suffix}"), opt.state_dict())
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    sched.step()
    jtorch.save(sched, tmp_path / "sched")
    assert jtorch.load(tmp_path / "sched") == sched.state_dict()


def test_several_models_and_optimizers_in_one_checkpoint(same_tree, tmp_path):
    a, b = nn.Linear(2, 2), nn.Linear(2, 3)
    oa = optim.SGD(a.parameters(), lr=0.1, momentum=0.5)
    ckpt = {
        "modelA_state_dict": a.state_dict(),
        "modelB_state_dict": b.state_dict(),
        "optimizerA_state_dict": oa.state_dict(),
        "epoch": 2,
    }
    jtorch.save(ckpt, tmp_path / "multi.tar")
    loaded = jtorch.load(tmp_path / "multi.tar")
    same_tree(loaded, ckpt)
    oa.load_state_dict(loaded["optimizerA_state_dict"])


def test_warm_start_with_strict_false(tmp_path):
    jtorch.save(nn.Sequential(nn.Linear(2, 3)).state_dict(), tmp_path / "a.pt")
    b = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    result = b.load_state_dict(jtorch.load(tmp_path / "a.pt"), strict=False)
    assert result.missing_keys == ["1.weight", "1.bias"] and result.unexpected_keys == []


@pytest.mark.parametrize("location", ["cpu", jtorch.device("cpu"), "sharding", "device"])
@pytest.mark.parametrize("suffix", ["", ".pth", ".safetensors"])
def test_map_location_places_arrays(tmp_path, location, suffix):
    dev = jax.devices("cpu")[0]
    if isinstance(location, str) and location == "sharding":
        location = jax.sharding.SingleDeviceSharding(dev)
    elif isinstance(location, str) and location == "device":
        location = dev
    path = tmp_path / f"m{suffix}"
    jtorch.save({"w": jnp.ones((2, 2))}, path)
    loaded = jtorch.load(path, map_location=location)
    assert loaded["w"].devices() == {dev}


def test_map_location_errors(tmp_path):
    jtorch.save({"w": jnp.ones(2)}, tmp_path / "m.pth")
    with pytest.raises(TypeError, match="map_location"):
        jtorch.load(tmp_path / "m.pth", map_location=3)
    if not jtorch.cuda.is_available():
        with pytest.raises(RuntimeError, match="cuda"):
            jtorch.load(tmp_path / "m.pth", map_location="cuda:0")


def test_safetensors_refuses_nested_objects_and_full_models(tmp_path):
    with pytest.raises(TypeError, match="flat dict"):
        jtorch.save({"a": {"b": jnp.ones(2)}}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="state_dict"):
        jtorch.save(nn.Linear(2, 2), tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="full model"):
        jtorch.save(nn.Linear(2, 2), tmp_path / "x.pth")


def test_safetensors_layout_is_the_published_format(tmp_path):
    import json
    import struct

    jtorch.save({"a": jnp.arange(6, dtype=jnp.float32).reshape(2, 3)}, tmp_path / "x.safetensors")
    raw = (tmp_path / "x.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    assert n % 8 == 0
    assert header["a"] == {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
    np.testing.assert_array_equal(np.frombuffer(raw[8 + n :], "<f4"), np.arange(6))


def test_unsupported_objects_are_named(tmp_path):
    with pytest.raises(TypeError, match="object"):
        jtorch.save({"x": object()}, tmp_path / "bad")
    import os

    with pytest.raises(TypeError, match="posix.system|os.system|nt.system"):
        jtorch.save({"f": os.system}, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_damaged_files_give_clear_errors(tmp_path):
    (tmp_path / "garbage.pth").write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="not a PyTorch zip checkpoint"):
        jtorch.load(tmp_path / "garbage.pth")
    (tmp_path / "garbage.safetensors").write_bytes(b"\xff" * 20)
    with pytest.raises(CheckpointError, match="safetensors"):
        jtorch.load(tmp_path / "garbage.safetensors")
    with pytest.raises(FileNotFoundError):
        jtorch.load(tmp_path / "missing.pth")
    with pytest.raises(FileNotFoundError):
        jtorch.load(tmp_path / "missing_dir")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(CheckpointError, match="not a complete Orbax checkpoint"):
        jtorch.load(tmp_path / "empty_dir")


def test_truncated_orbax_checkpoint_gives_a_clear_error(tmp_path):
    rng = np.random.default_rng(0)
    jtorch.save({"w": jnp.asarray(rng.standard_normal((64, 64)), jnp.float32)}, tmp_path / "c")
    data_files = [
        p for p in (tmp_path / "c" / "arrays").rglob("*") if p.is_file() and p.stat().st_size > 1000
    ]
    assert data_files
    for p in data_files:
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 3])
    with pytest.raises(CheckpointError, match="cannot read Orbax checkpoint"):
        jtorch.load(tmp_path / "c")
