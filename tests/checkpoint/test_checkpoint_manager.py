"""CheckpointManager (resume is bit-identical to the uninterrupted run; keep-best and
max_to_keep) and atomic Orbax saves (a save killed mid-write leaves the old checkpoint)."""

import os
import signal
import subprocess
import sys
import time

import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from jtorch import nn, optim
from jtorch.checkpoint import CheckpointManager


def _setup():
    jtorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, opt


@jtorch.jit
def _train_step(model, optimizer, x, y):
    loss, grads = jtorch.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
    optimizer.step(grads)
    return loss


def _batches():
    rng = np.random.default_rng(0)
    return [
        (
            jnp.asarray(rng.standard_normal((8, 4)), jnp.float32),
            jnp.asarray(rng.standard_normal((8, 1)), jnp.float32),
        )
        for _ in range(10)
    ]


def test_resume_is_bit_identical(tmp_path):
    batches = _batches()
    model, opt = _setup()
    for x, y in batches:
        _train_step(model, opt, x, y)
    expected = {k: np.asarray(v) for k, v in model.state_dict().items()}

    model, opt = _setup()
    for x, y in batches[:5]:
        _train_step(model, opt, x, y)
    manager = CheckpointManager(tmp_path / "run")
    manager.save(5, model=model, optimizer=opt, extra={"epoch": 5, "note": "half"})
    manager.wait_until_finished()

    jtorch.manual_seed(123)  # new objects with different initial values
    model2 = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    opt2 = optim.SGD(model2.parameters(), lr=0.1, momentum=0.9)
    restored = CheckpointManager(tmp_path / "run").restore("latest", model=model2, optimizer=opt2)
    assert restored["step"] == 5 and restored["extra"] == {"epoch": 5, "note": "half"}
    for x, y in batches[5:]:
        _train_step(model2, opt2, x, y)
    for key, value in model2.state_dict().items():
        np.testing.assert_array_equal(np.asarray(value), expected[key])


def test_keep_best_and_max_to_keep(tmp_path):
    model, opt = _setup()
    losses = {1: 0.9, 2: 0.5, 3: 0.7, 4: 0.3, 5: 0.8}
    manager = CheckpointManager(tmp_path / "best", max_to_keep=2, best_metric="val_loss")
    for step, loss in losses.items():
        manager.save(step, model=model, metrics={"val_loss": loss})
    manager.wait_until_finished()
    assert manager.best_step() == 4
    assert manager.all_steps() == [2, 4]
    out = manager.restore("best", model=model)
    assert out["step"] == 4 and out["metrics"] == {"val_loss": 0.3}
    with pytest.raises(ValueError, match="val_loss"):
        manager.save(6, model=model, metrics={"acc": 1.0})

    recent = CheckpointManager(tmp_path / "recent", max_to_keep=2, save_interval_steps=2)
    saved = [recent.save(step, model=model) for step in range(1, 8)]
    recent.wait_until_finished()
    assert saved == [True, True, False, True, False, True, False]  # the first is always saved
    assert recent.all_steps() == [4, 6] and recent.latest_step() == 6
    # each step directory is also a plain jtorch checkpoint
    state = jtorch.load(tmp_path / "recent" / "6")
    assert list(state["model"]) == list(model.state_dict())
    with pytest.raises(jtorch.checkpoint.CheckpointError, match="no checkpoint"):
        recent.restore(1, model=model)


def test_async_save_round_trips(tmp_path):
    model, opt = _setup()
    manager = CheckpointManager(tmp_path / "async", async_save=True)
    manager.save(1, model=model, optimizer=opt)
    before = {k: np.asarray(v) for k, v in model.state_dict().items()}
    x, y = _batches()[0]
    _train_step(model, opt, x, y)  # training continues while the save is written
    manager.wait_until_finished()
    model2, opt2 = _setup()
    manager.restore(1, model=model2, optimizer=opt2)
    for key, value in model2.state_dict().items():
        np.testing.assert_array_equal(np.asarray(value), before[key])


_SAVER = """
import sys, numpy as np, jtorch
arrays = {f"w{i}": np.full((2_000_000,), i, np.float32) for i in range(24)}
print("start", flush=True)
while True:
    jtorch.save(arrays, sys.argv[1])
"""


def _kill_while_saving(path, delay: float) -> None:
    """Start a process that saves a 192 MB checkpoint to `path` over and over; SIGKILL it
    `delay` seconds after one of its temporary directories appears."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    proc = subprocess.Popen(
        [sys.executable, "-c", _SAVER, str(path)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "start"
        deadline = time.time() + 60
        while time.time() < deadline and not any(
            p.name.startswith(".ckpt.jtorch-new-") for p in path.parent.iterdir()
        ):
            time.sleep(0.01)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_save_killed_mid_write_leaves_the_old_checkpoint(tmp_path):
    """Whatever moment the kill hits, the checkpoint loads (old or new, never a mix) and the
    load removes the debris; the kill is retried, sooner each time, until one lands mid-write
    (a fast disk can finish a save between two looks at the directory)."""
    path = tmp_path / "ckpt"
    old = {"w": jnp.arange(10.0), "epoch": 1}
    jtorch.save(old, path)
    killed_mid_write = False
    for delay in (0.3, 0.1, 0.03, 0.01, 0.0):
        _kill_while_saving(path, delay)
        leftovers = [p.name for p in tmp_path.iterdir() if p.name != "ckpt"]
        loaded = jtorch.load(path)
        if "w0" in loaded:  # a whole save finished before the kill: then it must be complete
            assert len(loaded) == 24
            np.testing.assert_array_equal(np.asarray(loaded["w23"])[:3], [23.0] * 3)
        else:
            assert loaded["epoch"] == 1
            np.testing.assert_array_equal(np.asarray(loaded["w"]), np.arange(10.0))
        assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # load cleaned up
        if leftovers:
            killed_mid_write = True
            break
    assert killed_mid_write, "no kill landed while a save was being written"


@pytest.mark.parametrize("async_save", [False, True])
def test_each_step_is_fsynced_before_older_steps_are_deleted(tmp_path, monkeypatch, async_save):
    from jtorch.checkpoint import _fsync

    synced = []  # (path, whether step 1 still existed when it was fsynced)
    real = _fsync._fsync

    def recording_fsync(path, flags):
        synced.append((os.path.realpath(path), (tmp_path / "run" / "1").is_dir()))
        real(path, flags)

    monkeypatch.setattr(_fsync, "_fsync", recording_fsync)
    model, opt = _setup()
    manager = CheckpointManager(tmp_path / "run", max_to_keep=1, async_save=async_save)
    manager.save(1, model=model, optimizer=opt)
    manager.wait_until_finished()
    synced.clear()
    manager.save(2, model=model, optimizer=opt)
    manager.wait_until_finished()
    assert manager.all_steps() == [2]

    step = tmp_path / "run" / "2"
    expected = {os.path.realpath(p) for p in [step, step.parent, *step.rglob("*")]}
    assert any(p.name == "_CHECKPOINT_METADATA" for p in step.iterdir())
    assert expected <= {path for path, _ in synced}  # every file, directory and the parent
    assert all(step1_present for _, step1_present in synced)  # all before step 1 was deleted
