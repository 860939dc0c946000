"""Datasets, samplers and default_collate against torch.utils.data on the same data."""

import collections
import warnings

import jax
import numpy as np
import pytest

import jtorch
from jtorch.utils import data as jdata

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def _tolist(x):
    """Nested structure with arrays/tensors turned into lists, for structural comparison."""
    if isinstance(x, torch.Tensor):
        return ("arr", x.tolist())
    if isinstance(x, (np.ndarray, jax.Array)):
        return ("arr", np.asarray(x).tolist())
    if isinstance(x, dict):
        return {k: _tolist(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__, tuple(_tolist(v) for v in x))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_tolist(v) for v in x])
    return x


# ----------------------------------------------------------------------------- datasets
def test_tensor_dataset_items_and_length_match_torch():
    x = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
    y = np.arange(7)
    ours, ref = jdata.TensorDataset(x, y), tdata.TensorDataset(torch.tensor(x), torch.tensor(y))
    assert len(ours) == len(ref)
    for i in (0, 3, -1):
        np.testing.assert_array_equal(ours[i][0], ref[i][0].numpy())
        assert int(ours[i][1]) == int(ref[i][1])


def test_tensor_dataset_accepts_jax_and_torch_inputs_and_checks_sizes():
    ds = jdata.TensorDataset(jax.numpy.ones((4, 2)), torch.zeros(4))
    assert len(ds) == 4 and isinstance(ds[0][0], np.ndarray)
    with pytest.raises(ValueError, match="Size mismatch"):
        jdata.TensorDataset(np.ones((3, 2)), np.ones(4))


class _Range(jdata.Dataset):
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def __len__(self):
        return self.hi - self.lo

    def __getitem__(self, i):
        if i >= len(self):
            raise IndexError(i)
        return self.lo + i


def test_concat_dataset_indexing_matches_torch():
    parts = [list(range(3)), list(range(10, 15)), list(range(20, 22))]
    ours = jdata.ConcatDataset([_Range(0, 3), _Range(10, 15), _Range(20, 22)])
    ref = tdata.ConcatDataset(parts)
    assert len(ours) == len(ref) and ours.cumulative_sizes == ref.cumulative_sizes
    assert [ours[i] for i in range(-len(ref), len(ref))] == [
        ref[i] for i in range(-len(ref), len(ref))
    ]
    with pytest.raises(ValueError, match="absolute value of index"):
        ours[-11]
    with pytest.raises(ValueError, match="empty iterable"):
        jdata.ConcatDataset([])
    assert isinstance(_Range(0, 2) + _Range(0, 3), jdata.ConcatDataset)


def test_subset_and_stack_dataset():
    sub = jdata.Subset(_Range(100, 110), [9, 0, 4])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [109, 100, 104]
    st = jdata.StackDataset(_Range(0, 3), _Range(5, 8))
    assert st[1] == (1, 6) and len(st) == 3
    st = jdata.StackDataset(a=_Range(0, 3), b=_Range(5, 8))
    assert st[2] == {"a": 2, "b": 7}


@pytest.mark.parametrize(
    "lengths", [[3, 7], [0.3, 0.7], [0.3, 0.3, 0.4], [1 / 3, 1 / 3, 1 / 3], [10, 0]]
)
def test_random_split_lengths_match_torch(lengths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = jdata.random_split(range(10), lengths)
        ref = tdata.random_split(range(10), lengths)
    assert [len(s) for s in ours] == [len(s) for s in ref]
    got = sorted(i for s in ours for i in s.indices)
    assert got == list(range(10))  # a partition


def test_random_split_with_torch_generator_equals_torch():
    ours = jdata.random_split(
        range(30), [0.3, 0.3, 0.4], generator=torch.Generator().manual_seed(4)
    )
    ref = tdata.random_split(range(30), [0.3, 0.3, 0.4], generator=torch.Generator().manual_seed(4))
    assert [list(s.indices) for s in ours] == [list(s.indices) for s in ref]


def test_random_split_reproducible_under_manual_seed_and_errors():
    jtorch.manual_seed(3)
    a = [s.indices for s in jdata.random_split(range(20), [5, 15])]
    jtorch.manual_seed(3)
    b = [s.indices for s in jdata.random_split(range(20), [5, 15])]
    c = [s.indices for s in jdata.random_split(range(20), [5, 15])]
    assert a == b and a != c
    g1, g2 = np.random.default_rng(1), np.random.default_rng(1)
    assert [s.indices for s in jdata.random_split(range(9), [4, 5], generator=g1)] == [
        s.indices for s in jdata.random_split(range(9), [4, 5], generator=g2)
    ]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        jdata.random_split(range(10), [3, 3])


# ----------------------------------------------------------------------------- samplers
def test_sequential_and_batch_sampler_match_torch():
    for n, bs, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (1, 4, False)]:
        ours = jdata.BatchSampler(jdata.SequentialSampler(range(n)), bs, drop)
        ref = tdata.BatchSampler(tdata.SequentialSampler(range(n)), bs, drop)
        assert list(ours) == list(ref) and len(ours) == len(ref)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size should be a positive integer"):
            jdata.BatchSampler(range(3), bad, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        jdata.BatchSampler(range(3), 2, 1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"num_samples": 25},
        {"num_samples": 7},
        {"replacement": True},
        {"replacement": True, "num_samples": 70},
    ],
)
def test_random_sampler_with_torch_generator_equals_torch(kwargs):
    ours = jdata.RandomSampler(range(10), generator=torch.Generator().manual_seed(0), **kwargs)
    ref = tdata.RandomSampler(range(10), generator=torch.Generator().manual_seed(0), **kwargs)
    assert list(ours) == list(ref) and len(ours) == len(ref)


def test_random_sampler_permutation_each_epoch_reproducible():
    s = jdata.RandomSampler(range(50))
    jtorch.manual_seed(7)
    e1, e2 = list(s), list(s)
    jtorch.manual_seed(7)
    assert [list(s), list(s)] == [e1, e2]
    assert sorted(e1) == list(range(50)) and e1 != e2
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        jdata.RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        jdata.RandomSampler(range(3), replacement=1)


def test_subset_random_sampler():
    idx = [3, 9, 27, 81]
    ours = jdata.SubsetRandomSampler(idx, generator=torch.Generator().manual_seed(2))
    ref = tdata.SubsetRandomSampler(idx, generator=torch.Generator().manual_seed(2))
    assert list(ours) == list(ref)
    assert sorted(jdata.SubsetRandomSampler(idx)) == idx and len(ours) == 4


def test_weighted_random_sampler():
    w = [0.0, 1.0, 3.0, 0.0]
    draws = list(jdata.WeightedRandomSampler(w, 4000, generator=np.random.default_rng(0)))
    counts = np.bincount(draws, minlength=4)
    assert counts[0] == counts[3] == 0 and 2.5 < counts[2] / counts[1] < 3.5
    assert sorted(jdata.WeightedRandomSampler(w, 2, replacement=False)) == [1, 2]
    ours = jdata.WeightedRandomSampler(w, 10, generator=torch.Generator().manual_seed(0))
    ref = tdata.WeightedRandomSampler(w, 10, generator=torch.Generator().manual_seed(0))
    assert list(ours) == list(ref) and len(ours) == 10
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        jdata.WeightedRandomSampler(w, 0)
    with pytest.raises(ValueError, match="1d sequence"):
        jdata.WeightedRandomSampler([[1.0]], 1)


@pytest.mark.parametrize(
    "n,replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 4, False), (12, 4, True)]
)
def test_distributed_sampler_shards_match_torch(n, replicas, drop_last):
    for rank in range(replicas):
        ours = jdata.DistributedSampler(
            range(n), replicas, rank, shuffle=False, drop_last=drop_last
        )
        ref = tdata.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(ref) and len(ours) == len(ref)
    shuffled = [
        list(jdata.DistributedSampler(range(n), replicas, r, seed=1)) for r in range(replicas)
    ]
    if not drop_last:
        assert set(sum(shuffled, [])) == set(range(n))
    with pytest.raises(ValueError, match="Invalid rank"):
        jdata.DistributedSampler(range(n), replicas, replicas)


def test_distributed_sampler_set_epoch_changes_order_consistently():
    s0 = jdata.DistributedSampler(range(40), 2, 0)
    s1 = jdata.DistributedSampler(range(40), 2, 1)
    first = list(s0)
    s0.set_epoch(1)
    s1.set_epoch(1)
    assert list(s0) != first and set(s0) | set(s1) == set(range(40))
    assert not set(s0) & set(s1)


# ----------------------------------------------------------------------------- collate
Point = collections.namedtuple("Point", ["x", "y"])
_rng = np.random.default_rng(0)
COLLATE_CASES = [
    ("tuples", [(_rng.normal(size=3).astype(np.float32), i) for i in range(4)]),
    (
        "dicts",
        [{"img": np.full((2, 2), i, np.float32), "label": i, "w": 0.5 * i} for i in range(3)],
    ),
    ("lists", [[np.int32(i), np.arange(2) + i] for i in range(3)]),
    ("namedtuple", [Point(np.ones(2) * i, float(i)) for i in range(3)]),
    ("strings", [("a", 1), ("b", 2)]),
    ("nested", [{"pair": (np.ones(1) * i, [i, i + 1])} for i in range(2)]),
    ("bools", [True, False, True]),
]


@pytest.mark.parametrize("name,batch", COLLATE_CASES, ids=[c[0] for c in COLLATE_CASES])
def test_default_collate_structure_and_values_match_torch(name, batch):
    ref = tdata.default_collate(batch)
    ours = jdata.default_collate(batch)
    assert _tolist(ours) == _tolist(ref)


def test_default_collate_jax_arrays_and_errors():
    out = jdata.default_collate([jax.numpy.ones(2), jax.numpy.zeros(2)])
    assert isinstance(out, jax.Array) and out.shape == (2, 2)
    with pytest.raises(RuntimeError, match="equal size"):
        jdata.default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        jdata.default_collate([object(), object()])


def test_default_convert_matches_torch_structure():
    sample = {"a": np.arange(3), "b": (np.ones(2), "s"), "c": 4}
    assert _tolist(jdata.default_convert(sample)) == _tolist(tdata.default_convert(sample))
