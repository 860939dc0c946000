"""DataLoader.state_dict / load_state_dict: a loader restored mid-epoch yields exactly the
batches an uninterrupted loader would have yielded next (the reference is the same loader run
without interruption; torch's own DataLoader has no such state)."""

import numpy as np
import pytest

from jtorch.utils.data import DataLoader, DistributedSampler, SequentialSampler, TensorDataset


def _dataset():
    rng = np.random.default_rng(0)
    return TensorDataset(rng.standard_normal((50, 3), dtype=np.float32), np.arange(50))


def _loader(dataset, **kwargs):
    sampler = DistributedSampler(dataset, num_replicas=2, rank=1, shuffle=True, seed=7)
    return DataLoader(dataset, batch_size=4, sampler=sampler, **kwargs)


@pytest.mark.parametrize("kwargs", [{}, {"num_workers": 2}], ids=["main", "workers"])
def test_resumed_loader_continues_with_the_batches_it_would_have_seen(kwargs):
    dataset = _dataset()
    whole = _loader(dataset, **kwargs)
    whole.sampler.set_epoch(3)
    expected = [np.asarray(y) for _, y in whole]

    first = _loader(dataset, **kwargs)
    first.sampler.set_epoch(3)
    run = iter(first)
    seen = [np.asarray(next(run)[1]) for _ in range(2)]
    state = first.state_dict()
    assert state == {"batches_yielded": 2, "sampler": {"epoch": 3, "seed": 7}}

    resumed = _loader(dataset, **kwargs)  # a new process: a fresh sampler at epoch 0
    resumed.load_state_dict(state)
    rest = [np.asarray(y) for _, y in resumed]
    assert len(seen) + len(rest) == len(expected)
    for got, want in zip(seen + rest, expected):
        np.testing.assert_array_equal(got, want)
    # the restore applies to one iterator: the next epoch starts at its beginning
    assert resumed.state_dict()["batches_yielded"] == len(expected)
    assert len(list(resumed)) == len(expected)


def test_sequential_loader_resumes():
    dataset = _dataset()
    loader = DataLoader(dataset, batch_size=8, sampler=SequentialSampler(dataset))
    run = iter(loader)
    next(run)
    other = DataLoader(dataset, batch_size=8, sampler=SequentialSampler(dataset))
    other.load_state_dict(loader.state_dict())
    np.testing.assert_array_equal(next(iter(other))[1], np.arange(8, 16))


def test_orders_that_cannot_be_restored_and_bad_states_are_refused():
    dataset = _dataset()
    with pytest.raises(TypeError, match="order of RandomSampler cannot be restored"):
        DataLoader(dataset, batch_size=4, shuffle=True).state_dict()
    loader = _loader(dataset)
    with pytest.raises(ValueError, match=r"keys \['batches_yielded', 'sampler'\]"):
        loader.load_state_dict({"batches": 1})
    with pytest.raises(ValueError, match=r"'batches_yielded' must be an int in \[0, 7\]"):
        loader.load_state_dict({"batches_yielded": 8, "sampler": {"epoch": 0, "seed": 7}})
    with pytest.raises(ValueError, match="DistributedSampler.load_state_dict"):
        loader.load_state_dict({"batches_yielded": 1, "sampler": {"epoch": 0}})
