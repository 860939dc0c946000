"""`init_process_group` refuses bad arguments and environments with errors naming them, before
starting anything; the getters refuse an uninitialised group as torch does."""

import pytest

import jtorch.distributed as dist

TORCHRUN_ENV = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK")

BAD_CALLS = [
    (dict(backend="ucc"), {}, "`backend` 'ucc' is not supported"),
    (dict(world_size=2, rank=2), {}, r"`rank` must be in \[0, 1\] for world_size=2, got 2"),
    (dict(world_size=0), {}, "`world_size` must be >= 1, got 0"),
    (dict(), {"WORLD_SIZE": "two"}, "WORLD_SIZE='two' is not an integer"),
    (dict(world_size=2, rank=0), {}, "must set MASTER_ADDR and MASTER_PORT"),
    (dict(world_size=2, rank=0, init_method="tcp://host"), {}, "has no port"),
    (dict(world_size=2, rank=0, init_method="file://sharedfile"), {}, "is not supported"),
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)
    yield
    assert not dist.is_initialized()


@pytest.mark.parametrize("kwargs,env,message", BAD_CALLS, ids=[m for *_, m in BAD_CALLS])
def test_bad_arguments_are_named(monkeypatch, kwargs, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        dist.init_process_group(**kwargs)


def test_uninitialised_group_is_refused():
    assert dist.is_available() and not dist.is_initialized()
    for fn in (dist.get_rank, dist.get_world_size, dist.barrier, dist.destroy_process_group):
        with pytest.raises(ValueError, match="has not been initialized"):
            fn()


def test_checkpoint_with_other_keys_is_refused(tmp_path):
    """`checkpoint.load` names the keys that differ from the given state_dict."""
    import jax.numpy as jnp

    from jtorch.distributed import checkpoint as dcp

    dcp.save({"a": jnp.ones(3), "b": jnp.zeros(2)}, tmp_path / "ckpt")
    with pytest.raises(ValueError, match=r"missing keys \['c'\], unexpected keys \['b'\]"):
        dcp.load({"a": jnp.ones(3), "c": jnp.zeros(2)}, tmp_path / "ckpt")
    with pytest.raises(TypeError, match=r"\['a'\] is a str, expected an array"):
        dcp.save({"a": "text"}, tmp_path / "other")
