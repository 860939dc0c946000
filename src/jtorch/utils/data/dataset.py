"""Datasets as torch.utils.data defines them: map-style, iterable, tensors, concat, subsets."""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from jtorch.utils.data._rng import draw_seed, is_torch_generator

__all__ = [
    "Dataset",
    "IterableDataset",
    "TensorDataset",
    "StackDataset",
    "ConcatDataset",
    "ChainDataset",
    "Subset",
    "random_split",
]

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """A map-style dataset: subclasses define `__getitem__(index)` and usually `__len__()`."""

    def __getitem__(self, index: int) -> T_co:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """A dataset defined by `__iter__()`; with workers, each worker iterates its own copy.

    Use `get_worker_info()` inside `__iter__` to split the stream between workers (as in torch).
    """

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other: Dataset) -> ChainDataset:
        return ChainDataset([self, other])


def _as_host_array(t: Any) -> np.ndarray:
    if isinstance(t, np.ndarray):
        return t
    if hasattr(t, "detach") and hasattr(t, "numpy"):  # a torch tensor
        return t.detach().cpu().numpy()
    return np.asarray(t)


class TensorDataset(Dataset[tuple]):
    """Samples are tuples `(t[index] for t in tensors)`; every tensor shares its first dimension.

    Differs from torch: the tensors are held as host numpy arrays (jax arrays and torch tensors are
    copied to the host once), so `dataset[i]` gives numpy rows; the DataLoader turns whole batches
    into jax arrays with one fancy-index per tensor instead of stacking rows one by one.
    """

    def __init__(self, *tensors: Any) -> None:
        arrays = tuple(_as_host_array(t) for t in tensors)
        if any(a.ndim == 0 for a in arrays):
            raise ValueError("TensorDataset: every tensor needs a first (sample) dimension")
        if arrays and any(a.shape[0] != arrays[0].shape[0] for a in arrays):
            shapes = [tuple(a.shape) for a in arrays]
            raise ValueError(f"Size mismatch between tensors: shapes {shapes}")
        self.tensors = arrays

    def __getitem__(self, index: int) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _get_batch(self, indices: Sequence[int]) -> list:
        """The collated batch for `indices` (what default_collate makes of the samples)."""
        idx = np.asarray(indices, dtype=np.int64)
        return [t[idx] for t in self.tensors]


class StackDataset(Dataset):
    """Samples are tuples (positional datasets) or dicts (keyword datasets) of their items."""

    def __init__(self, *args: Dataset, **kwargs: Dataset) -> None:
        if args and kwargs:
            raise ValueError(
                "Supported either ``tuple``- (via ``args``) or``dict``- (via ``kwargs``) like "
                "input/output, but both types are given."
            )
        self._datasets: Any = args if args else kwargs
        sizes = [len(d) for d in (args or kwargs.values())]
        if not sizes:
            raise ValueError("At least one dataset should be passed")
        if any(s != sizes[0] for s in sizes):
            raise ValueError(f"Size mismatch between datasets: {sizes}")
        self._length = sizes[0]

    def __getitem__(self, index: int) -> Any:
        if isinstance(self._datasets, dict):
            return {k: d[index] for k, d in self._datasets.items()}
        return tuple(d[index] for d in self._datasets)

    def __len__(self) -> int:
        return self._length


class ConcatDataset(Dataset[T_co]):
    """The datasets one after another; `cumulative_sizes[i]` is the end of dataset i."""

    @staticmethod
    def cumsum(sequence: Iterable[Dataset]) -> list[int]:
        r, s = [], 0
        for e in sequence:
            s += len(e)
            r.append(s)
        return r

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise ValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise ValueError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> T_co:
        if idx < 0:
            if -idx > len(self):
                raise ValueError(
                    f"absolute value of index should not exceed dataset length: {idx} for "
                    f"length {len(self)}"
                )
            idx = len(self) + idx
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        sample_idx = idx if dataset_idx == 0 else idx - self.cumulative_sizes[dataset_idx - 1]
        return self.datasets[dataset_idx][sample_idx]


class ChainDataset(IterableDataset):
    """Iterable datasets chained one after another (torch.utils.data.ChainDataset)."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)  # type: ignore[arg-type]


class Subset(Dataset[T_co]):
    """The items of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: int | list[int]) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]  # type: ignore[index]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list:
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])  # type: ignore
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


def _randperm(n: int, generator: Any = None) -> list[int]:
    """A random permutation of range(n); a torch.Generator gives torch.randperm's exact result."""
    if is_torch_generator(generator):
        import torch

        return torch.randperm(n, generator=generator).tolist()
    if isinstance(generator, np.random.Generator):
        return generator.permutation(n).tolist()
    return np.random.default_rng(draw_seed(generator)).permutation(n).tolist()


def random_split(
    dataset: Dataset[T_co], lengths: Sequence[int | float], generator: Any = None
) -> list[Subset[T_co]]:
    """Split `dataset` into non-overlapping random `Subset`s of the given lengths or fractions.

    Fractions summing to 1 become floor(frac · len) with the remainder handed out round-robin.
    `generator=None` draws from jtorch's global RNG (`jtorch.manual_seed`); a numpy Generator,
    `nnx.Rngs`, jax key or `random.Random` also work.
    Differs from torch: the permutation comes from numpy, so it differs from torch's for the same
    seed unless a `torch.Generator` is passed (then it is `torch.randperm`'s exactly).
    """
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        subset_lengths: list[int] = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            subset_lengths.append(math.floor(len(dataset) * frac))  # type: ignore[arg-type]
        remainder = len(dataset) - sum(subset_lengths)  # type: ignore[arg-type]
        for i in range(remainder):
            subset_lengths[i % len(subset_lengths)] += 1
        lengths = subset_lengths
        for i, length in enumerate(lengths):
            if length == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.",
                    stacklevel=2,
                )
    if sum(lengths) != len(dataset):  # type: ignore[arg-type]
        raise ValueError(
            "Sum of input lengths does not equal the length of the input dataset! "
            f"(lengths sum to {sum(lengths)}, dataset has {len(dataset)} items)"  # type: ignore
        )
    indices = _randperm(int(sum(lengths)), generator)
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, indices[offset : offset + int(length)]))
        offset += int(length)
    return out
