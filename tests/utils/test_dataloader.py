"""DataLoader against torch.utils.data.DataLoader: batches, order, lengths, workers, errors."""

import os
import random
import signal
import time

import jax
import numpy as np
import pytest

import jtorch
from jtorch.utils import data as jdata

torch = pytest.importorskip("torch")
tdata = torch.utils.data
# torch's own DataLoader forks beside JAX in the reference runs; jtorch silences this itself.
pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")

X = np.arange(2 * 23, dtype=np.float32).reshape(23, 2)
Y = np.arange(23)


class MapDS(jdata.Dataset):
    """A plain map-style dataset (no fast path): dict samples."""

    def __init__(self, n=23, fail_at=None, kill_at=None, sleep_at=None):
        self.n, self.fail_at, self.kill_at, self.sleep_at = n, fail_at, kill_at, sleep_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise ValueError(f"bad sample {i}")
        if i == self.kill_at and jdata.get_worker_info() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        if i == self.sleep_at:
            time.sleep(3)
        return {"x": np.full((2,), i, np.float32), "y": i}


class TorchMapDS(tdata.Dataset):
    def __len__(self):
        return 23

    def __getitem__(self, i):
        return {"x": np.full((2,), i, np.float32), "y": i}


def _np(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


LOADER_CASES = [
    dict(batch_size=4),
    dict(batch_size=4, drop_last=True),
    dict(batch_size=23),
    dict(batch_size=5, sampler=[3, 1, 4, 1, 5, 9, 2, 6]),
    dict(batch_size=None),
]


@pytest.mark.parametrize("kwargs", LOADER_CASES, ids=str)
def test_tensor_dataset_batches_match_torch(kwargs):
    ours = jdata.DataLoader(jdata.TensorDataset(X, Y), **kwargs)
    ref = tdata.DataLoader(tdata.TensorDataset(torch.tensor(X), torch.tensor(Y)), **kwargs)
    assert len(ours) == len(ref)
    got, want = list(ours), list(ref)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert isinstance(g, list) and isinstance(g[0], jax.Array)
        np.testing.assert_array_equal(np.asarray(g[0]), w[0].numpy())
        np.testing.assert_array_equal(np.asarray(g[1]), w[1].numpy())


@pytest.mark.parametrize("kwargs", LOADER_CASES[:4], ids=str)
def test_dict_dataset_batches_match_torch(kwargs):
    ours = list(jdata.DataLoader(MapDS(), **kwargs))
    ref = list(tdata.DataLoader(TorchMapDS(), **kwargs))
    assert len(ours) == len(ref)
    for g, w in zip(ours, ref):
        assert set(g) == {"x", "y"}
        np.testing.assert_array_equal(np.asarray(g["x"]), w["x"].numpy())
        np.testing.assert_array_equal(np.asarray(g["y"]), w["y"].numpy())


def test_batch_sampler_option_and_argument_errors_match_torch():
    bs = [[0, 1], [5], [2, 3, 4]]
    got = [
        np.asarray(b[1]).tolist()
        for b in jdata.DataLoader(jdata.TensorDataset(X, Y), batch_sampler=bs)
    ]
    assert got == [[0, 1], [5], [2, 3, 4]]
    ds = jdata.TensorDataset(X, Y)
    bad = [
        (dict(sampler=[0], shuffle=True), "mutually exclusive with shuffle"),
        (dict(batch_sampler=bs, batch_size=2), "batch_sampler option is mutually exclusive"),
        (dict(batch_size=None, drop_last=True), "disables auto-batching"),
        (dict(num_workers=-1), "num_workers option should be non-negative"),
        (dict(prefetch_factor=2), "prefetch_factor option could only be specified"),
        (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
        (dict(timeout=-1), "timeout option should be non-negative"),
    ]
    for kwargs, msg in bad:
        with pytest.raises(ValueError, match=msg):
            jdata.DataLoader(ds, **kwargs)
        with pytest.raises(ValueError):
            tdata.DataLoader(tdata.TensorDataset(torch.tensor(X)), **kwargs)


def test_shuffle_new_permutation_each_epoch_reproducible_under_manual_seed():
    loader = jdata.DataLoader(jdata.TensorDataset(X, Y), batch_size=5, shuffle=True)
    jtorch.manual_seed(0)
    e1 = np.concatenate([np.asarray(b[1]) for b in loader])
    e2 = np.concatenate([np.asarray(b[1]) for b in loader])
    jtorch.manual_seed(0)
    again = np.concatenate([np.asarray(b[1]) for b in loader])
    assert sorted(e1.tolist()) == list(range(23)) and not np.array_equal(e1, e2)
    np.testing.assert_array_equal(e1, again)


def test_shuffle_with_torch_generator_gives_torch_order():
    ours = jdata.DataLoader(
        jdata.TensorDataset(X, Y),
        batch_size=4,
        shuffle=True,
        generator=torch.Generator().manual_seed(5),
    )
    ref = tdata.DataLoader(
        tdata.TensorDataset(torch.tensor(X), torch.tensor(Y)),
        batch_size=4,
        shuffle=True,
        generator=torch.Generator().manual_seed(5),
    )
    for _ in range(2):  # two epochs from the same generator
        assert [np.asarray(b[1]).tolist() for b in ours] == [b[1].tolist() for b in ref]


def test_workers_give_same_batches_as_no_workers():
    for ds in (MapDS(), jdata.TensorDataset(X, Y)):
        kwargs = dict(batch_size=3, shuffle=True, drop_last=False)
        jtorch.manual_seed(1)
        single = [_np(b) for b in jdata.DataLoader(ds, **kwargs)]
        jtorch.manual_seed(1)
        multi = [_np(b) for b in jdata.DataLoader(ds, num_workers=2, **kwargs)]
        assert len(single) == len(multi) == 8
        for a, b in zip(single, multi):
            jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)


def test_thread_workers_and_numpy_output():
    loader = jdata.DataLoader(
        MapDS(), batch_size=4, num_workers=2, worker_mode="thread", as_numpy=True
    )
    batches = list(loader)
    assert isinstance(batches[0]["x"], np.ndarray)
    assert np.concatenate([b["y"] for b in batches]).tolist() == list(range(23))


def test_worker_exception_is_reraised_with_sample_index():
    loader = jdata.DataLoader(MapDS(fail_at=7), batch_size=4, num_workers=2)
    with pytest.raises(
        ValueError,
        match=r"(?s)worker process 1 while loading sample index 7.*"
        r"bad sample 7",
    ):
        list(loader)
    with pytest.raises(ValueError, match="bad sample 7") as info:
        list(jdata.DataLoader(MapDS(fail_at=7), batch_size=4))
    assert "sample index 7" in "".join(getattr(info.value, "__notes__", ["sample index 7"]))


def test_killed_worker_raises_instead_of_hanging():
    loader = jdata.DataLoader(MapDS(kill_at=9), batch_size=2, num_workers=2)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(loader)
    assert time.monotonic() - start < 30


def test_timeout_raises():
    loader = jdata.DataLoader(MapDS(sleep_at=0), batch_size=2, num_workers=1, timeout=0.5)
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        next(iter(loader))


def _sample_info(_):
    info = jdata.get_worker_info()
    return info.id, info.seed, random.random()


class InfoDS(jdata.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = jdata.get_worker_info()
        return np.int64(info.id), np.float64(random.random()), np.int64(os.getpid())


def test_worker_seeding_init_fn_and_persistent_workers():
    calls = []

    def init(worker_id):  # runs in the worker; check its info there
        assert jdata.get_worker_info().id == worker_id
        calls.append(worker_id)

    loader = jdata.DataLoader(
        InfoDS(),
        batch_size=2,
        num_workers=2,
        worker_init_fn=init,
        persistent_workers=True,
        as_numpy=True,
    )
    jtorch.manual_seed(11)
    e1 = list(loader)
    e2 = list(loader)
    assert [b[0].tolist() for b in e1] == [[0, 0], [1, 1], [0, 0], [1, 1]]  # round robin
    assert {int(b[2][0]) for b in e1} == {int(b[2][0]) for b in e2}  # same processes
    jtorch.manual_seed(11)
    again = list(jdata.DataLoader(InfoDS(), batch_size=2, num_workers=2, as_numpy=True))
    for a, b in zip(e1, again):  # worker RNGs seeded from jtorch's global RNG
        np.testing.assert_array_equal(a[1], b[1])
    assert jdata.get_worker_info() is None and calls == []  # init ran in the workers only
    loader._pool.shutdown()


class Stream(jdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = jdata.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        return self.n


class TorchStream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = tdata.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


@pytest.mark.parametrize(
    "workers,bs,drop", [(0, 4, False), (0, 4, True), (2, 3, False), (2, None, False)]
)
def test_iterable_dataset_matches_torch(workers, bs, drop):
    ours = jdata.DataLoader(Stream(11), batch_size=bs, drop_last=drop, num_workers=workers)
    ref = tdata.DataLoader(TorchStream(11), batch_size=bs, drop_last=drop, num_workers=workers)
    got = [np.asarray(b).tolist() for b in ours]
    want = [np.asarray(b).tolist() for b in ref]
    assert got == want
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        jdata.DataLoader(Stream(3), shuffle=True)


def test_device_and_sharding_placement():
    dev = jax.devices("cpu")[0]
    loader = jdata.DataLoader(jdata.TensorDataset(X, Y), batch_size=8, device="cpu")
    batches = list(loader)
    assert len(batches) == len(loader) == 3
    assert all(b[0].devices() == {dev} for b in batches)
    sharding = jax.sharding.SingleDeviceSharding(dev)
    b = next(iter(jdata.DataLoader(jdata.TensorDataset(X, Y), batch_size=8, sharding=sharding)))
    assert b[0].sharding == sharding
    np.testing.assert_array_equal(np.asarray(b[0]), X[:8])
    with pytest.raises(ValueError, match="at most one of `device` and `sharding`"):
        jdata.DataLoader(X, device="cpu", sharding=sharding)


def test_custom_collate_fn_runs_in_workers():
    def collate(batch):
        return np.stack([s["x"] for s in batch]).sum(0)

    got = [
        np.asarray(b)
        for b in jdata.DataLoader(MapDS(), batch_size=5, collate_fn=collate, num_workers=2)
    ]
    ref = list(tdata.DataLoader(TorchMapDS(), batch_size=5, collate_fn=collate))
    for g, w in zip(got, ref):
        np.testing.assert_array_equal(g, w)
