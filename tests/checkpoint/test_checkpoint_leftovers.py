"""Leftovers of killed saves: the next save to the same target (and CheckpointManager on start and
on save) removes the temporaries whose writer is dead, and never those of a live process or of
another host. One save is really killed mid-write (os._exit in a fresh process); the others use
temporaries named as a killed or a running writer would name them."""

import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from jtorch.checkpoint import CheckpointManager
from jtorch.checkpoint._leftovers import _HOST


@pytest.fixture(scope="module")
def dead_pid():
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def _names(target, kind, dead_pid):
    """{role: sibling name} for temporaries of `target` written by various writers."""
    prefix = f".{target.name}.jtorch-{kind}"
    return {
        "dead": f"{prefix}-{_HOST}-{dead_pid}-0badc0de",
        "legacy": f"{prefix}-0123456789ab",  # earlier jtorch versions recorded no writer
        "live": f"{prefix}-{_HOST}-{os.getppid()}-0badc0de",
        "this process": f"{prefix}-{_HOST}-{os.getpid()}-0badc0de",
        "other host": f"{prefix}-{0xFFFFFFFF ^ int(_HOST, 16):08x}-{dead_pid}-0badc0de",
    }


STALE = {"dead", "legacy"}


@pytest.mark.parametrize(
    "suffix,kinds",
    [(".pth", ("tmp", "old")), (".safetensors", ("tmp",)), ("", ("new", "old"))],
    ids=["pth", "safetensors", "orbax"],
)
def test_next_save_sweeps_only_dead_writers_leftovers(tmp_path, dead_pid, suffix, kinds):
    target = tmp_path / f"model{suffix}"
    jtorch.save({"w": jnp.ones(3)}, target)
    made = {}
    for kind in kinds:
        for role, name in _names(target, kind, dead_pid).items():
            leftover = tmp_path / name
            if suffix:
                leftover.write_bytes(b"partial")
            else:  # Orbax temporaries are directories, Orbax's own tmp suffix included
                (tmp_path / f"{name}.orbax-checkpoint-tmp").mkdir()
                leftover.mkdir()
                (leftover / "arrays").mkdir()
            made[leftover] = role
    jtorch.save({"w": jnp.zeros(3)}, target)
    for leftover, role in made.items():
        assert leftover.exists() == (role not in STALE), (leftover.name, role)
    for leftover in tmp_path.glob("*.orbax-checkpoint-tmp"):
        assert made[leftover.with_name(leftover.name.split(".orbax")[0])] not in STALE
    np.testing.assert_array_equal(np.asarray(jtorch.load(target)["w"]), np.zeros(3))


def test_a_save_killed_mid_write_leaves_a_temp_file_the_next_save_removes(tmp_path, python):
    code = """
import os, numpy as np, jtorch
from jtorch.checkpoint import torch_pth
def killed(f, records, alignment):
    f.write(b"partial")
    f.flush()
    os._exit(9)
torch_pth.write_stored_zip = killed
jtorch.save({"w": np.ones(3)}, "m.pth")
"""
    done = python(code, cwd=str(tmp_path))
    assert done.returncode == 9, done.stderr[-2000:]
    leftovers = list(tmp_path.glob(".m.pth.jtorch-tmp-*"))
    assert len(leftovers) == 1 and not (tmp_path / "m.pth").exists()
    jtorch.save({"w": jnp.ones(3)}, tmp_path / "m.pth")
    assert not leftovers[0].exists() and jtorch.load(tmp_path / "m.pth")["w"].shape == (3,)


def _orbax_tmp_step(directory, step):
    tmp = directory / f"{step}.orbax-checkpoint-tmp-1700000000"
    (tmp / "arrays").mkdir(parents=True)
    return tmp


def test_manager_sweeps_temporary_steps_unless_another_live_writer_is_open(tmp_path, dead_pid):
    directory = tmp_path / "run"
    directory.mkdir()
    dead_marker = directory / f".jtorch-writer-{_HOST}-{dead_pid}-0badc0de"
    dead_marker.touch()
    stale = _orbax_tmp_step(directory, 3)
    with CheckpointManager(directory) as manager:  # on start: no live writer but itself
        assert not stale.exists() and not dead_marker.exists()
        live_marker = directory / f".jtorch-writer-{_HOST}-{os.getppid()}-0badc0de"
        live_marker.touch()  # another process opens the directory and starts a save
        running = _orbax_tmp_step(directory, 4)
        manager.save(1, extra={"w": jnp.ones(2)})
        assert running.exists() and live_marker.exists()
        with CheckpointManager(directory) as second:  # nor does a second manager on start
            assert running.exists() and second.all_steps() == [1]
        live_marker.unlink()  # that writer closed
        manager.save(2, extra={"w": jnp.ones(2)})
        assert not running.exists()
        assert manager.all_steps() == [1, 2]
    assert not list(directory.glob(".jtorch-writer-*"))  # closed managers leave no marker
