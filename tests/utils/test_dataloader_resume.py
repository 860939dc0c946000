"""DataLoader.state_dict / load_state_dict: a loader restored mid-epoch yields exactly the
batches an uninterrupted loader would have yielded next (the reference is the same loader run
without interruption; torch's own DataLoader has no such state)."""

import numpy as np
import pytest

import jtorch
from jtorch.utils.data import (
    DataLoader,
    DistributedSampler,
    SequentialSampler,
    TensorDataset,
    WeightedRandomSampler,
)


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
    assert state["batches_yielded"] == 2 and state["sampler"] == {"epoch": 3, "seed": 7}

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
    weighted = WeightedRandomSampler(np.ones(50), 50)
    with pytest.raises(TypeError, match="order of WeightedRandomSampler cannot be restored"):
        DataLoader(dataset, batch_size=4, sampler=weighted).state_dict()
    shuffled = DataLoader(dataset, batch_size=4, shuffle=True)
    with pytest.raises(ValueError, match="RandomSampler.load_state_dict: expected {} or a dict"):
        shuffled.load_state_dict(
            {"batches_yielded": 1, "sampler": {"epoch": 0, "seed": 7}, "base_seed": 1}
        )
    with pytest.raises(ValueError, match="'seed' must be a non-negative int"):
        shuffled.load_state_dict({"batches_yielded": 1, "sampler": {"seed": -1}, "base_seed": 1})
    loader = _loader(dataset)
    with pytest.raises(ValueError, match=r"keys \['base_seed', 'batches_yielded', 'sampler'\]"):
        loader.load_state_dict({"batches": 1})
    with pytest.raises(ValueError, match=r"'batches_yielded' must be an int in \[0, 7\]"):
        loader.load_state_dict(
            {"batches_yielded": 8, "sampler": {"epoch": 0, "seed": 7}, "base_seed": 1}
        )
    with pytest.raises(ValueError, match="DistributedSampler.load_state_dict"):
        loader.load_state_dict({"batches_yielded": 1, "sampler": {"epoch": 0}, "base_seed": 1})


def _labels(batches):
    return [np.asarray(y) for _, y in batches]


@pytest.mark.parametrize("kwargs", [{}, {"num_workers": 2}], ids=["main", "workers"])
def test_shuffled_loader_resumes_mid_epoch_and_later_epochs_match(kwargs):
    """shuffle=True draws each epoch's seed from the global RNG; saving the loader's state with
    jtorch.get_rng_state() and restoring both gives the uninterrupted run's batches."""
    dataset = _dataset()
    jtorch.manual_seed(0)
    whole = DataLoader(dataset, batch_size=4, shuffle=True, **kwargs)
    expected = [_labels(whole) for _ in range(2)]
    assert not all(np.array_equal(a, b) for a, b in zip(*expected))  # two different orders

    jtorch.manual_seed(0)
    first = DataLoader(dataset, batch_size=4, shuffle=True, **kwargs)
    run = iter(first)
    seen = [np.asarray(next(run)[1]) for _ in range(3)]
    saved = (first.state_dict(), jtorch.get_rng_state())
    assert saved[0]["batches_yielded"] == 3 and set(saved[0]["sampler"]) == {"seed"}
    del run

    jtorch.manual_seed(123)  # a new process: another RNG state until restored
    resumed = DataLoader(dataset, batch_size=4, shuffle=True, **kwargs)
    resumed.load_state_dict(saved[0])
    jtorch.set_rng_state(saved[1])
    got = [seen + _labels(resumed), _labels(resumed)]
    for epoch_got, epoch_want in zip(got, expected, strict=True):
        assert len(epoch_got) == len(epoch_want)
        for a, b in zip(epoch_got, epoch_want):
            np.testing.assert_array_equal(a, b)


def test_state_saved_at_an_epoch_end_starts_the_next_epoch():
    dataset = _dataset()
    jtorch.manual_seed(0)
    whole = DataLoader(dataset, batch_size=4, shuffle=True)
    expected = [_labels(whole) for _ in range(2)]

    jtorch.manual_seed(0)
    first = DataLoader(dataset, batch_size=4, shuffle=True)
    _labels(first)
    saved = (first.state_dict(), jtorch.get_rng_state())
    assert saved[0]["batches_yielded"] == len(first)

    resumed = DataLoader(dataset, batch_size=4, shuffle=True)
    resumed.load_state_dict(saved[0])
    jtorch.set_rng_state(saved[1])
    for a, b in zip(_labels(resumed), expected[1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_torch_generator_order_resumes_from_its_recorded_state():
    """With a torch.Generator the sampler records the generator's state at the epoch start and
    restores it: the resumed epoch and the next one equal the uninterrupted run, which itself
    follows torch's DataLoader exactly."""
    torch = pytest.importorskip("torch")
    dataset = _dataset()
    whole = DataLoader(
        dataset, batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(5)
    )
    expected = [np.concatenate(_labels(whole)) for _ in range(2)]
    reference = torch.utils.data.DataLoader(
        range(50), batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(5)
    )
    for epoch in expected:  # torch's loader draws its base seed, then the sampler's order
        np.testing.assert_array_equal(epoch, np.concatenate([b.numpy() for b in reference]))

    first = DataLoader(
        dataset, batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(5)
    )
    run = iter(first)
    seen = [np.asarray(next(run)[1]) for _ in range(4)]
    state = first.state_dict()
    assert state["sampler"]["generator_state"].dtype == np.uint8

    other = torch.Generator().manual_seed(999)
    resumed = DataLoader(dataset, batch_size=5, shuffle=True, generator=other)
    resumed.load_state_dict(state)
    np.testing.assert_array_equal(np.concatenate(seen + _labels(resumed)), expected[0])
    np.testing.assert_array_equal(np.concatenate(_labels(resumed)), expected[1])


def test_jtorch_generator_shuffles_reproducibly():
    """`generator=torch.Generator().manual_seed(s)` after the import swap is a jtorch.Generator:
    a seeded order (not torch's; jtorch's generator is not torch's Mersenne Twister)."""
    from jtorch.utils.data import random_split

    dataset = _dataset()

    def order(seed):
        loader = DataLoader(
            dataset, batch_size=50, shuffle=True, generator=jtorch.Generator().manual_seed(seed)
        )
        return np.asarray(next(iter(loader))[1])

    np.testing.assert_array_equal(order(1), order(1))
    assert sorted(order(1).tolist()) == list(range(50))
    assert not np.array_equal(order(1), order(2))
    split = [
        s.indices
        for s in random_split(dataset, [40, 10], generator=jtorch.Generator().manual_seed(3))
    ]
    again = [
        s.indices
        for s in random_split(dataset, [40, 10], generator=jtorch.Generator().manual_seed(3))
    ]
    assert split == again and sorted(split[0] + split[1]) == list(range(50))
