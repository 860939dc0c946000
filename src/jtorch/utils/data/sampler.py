"""Samplers: which indices a DataLoader reads, and in which order (torch.utils.data samplers).

Random samplers draw a fresh seed at every `iter()` from `generator`, or from jtorch's global RNG
when `generator` is None, so `jtorch.manual_seed(s)` makes every epoch's order reproducible.
Differs from torch: the random streams are numpy's, so orders differ from torch's for the same
seed, except that passing a `torch.Generator` reproduces torch's `randperm`/`randint` exactly.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy as np

from jtorch.utils.data._rng import draw_seed
from jtorch.utils.data._rng import is_torch_generator as _is_torch_generator

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
    "DistributedSampler",
]


class Sampler:
    """Base class: subclasses define `__iter__` over indices (and usually `__len__`)."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Indices 0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)

    def state_dict(self) -> dict[str, Any]:
        """Nothing: the order is always the same (lets a DataLoader resume mid-epoch)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state != {}:
            raise ValueError(f"SequentialSampler.load_state_dict: expected {{}}, got {state!r}")


class RandomSampler(Sampler):
    """A random permutation each epoch, or `num_samples` draws with replacement.

    `iter()` fixes the epoch's order at once: it draws the epoch's seed (or, with a
    `torch.Generator`, notes the generator's state before drawing). `state_dict()` returns that
    record for the epoch last started, so a restored sampler's next `iter()` repeats the order
    instead of drawing a new one (a DataLoader resumed mid-epoch); later epochs draw from the
    generator, or the global RNG, as restored by the caller.
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Any = None,
    ) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        self._epoch_state: dict[str, Any] = {}  # what fixed the order of the epoch last started
        self._restored: dict[str, Any] = {}  # from load_state_dict: used by the next iter()
        if not isinstance(self.replacement, bool):
            raise TypeError(
                f"replacement should be a boolean value, but got replacement={self.replacement}"
            )
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(
                "num_samples should be a positive integer value, but got "
                f"num_samples={self.num_samples}"
            )

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        restored, self._restored = self._restored, {}
        if _is_torch_generator(self.generator):
            import torch

            if restored:
                self.generator.set_state(torch.from_numpy(restored["generator_state"].copy()))
            self._epoch_state = {"generator_state": self.generator.get_state().numpy().copy()}
            return self._torch_order(self.generator)
        seed = restored["seed"] if restored else draw_seed(self.generator)
        self._epoch_state = {"seed": seed}
        return self._numpy_order(np.random.default_rng(seed))

    def _torch_order(self, g: Any) -> Iterator[int]:
        """torch's own draws (torch.utils.data.RandomSampler), so a torch.Generator gives torch's
        order exactly."""
        import torch

        n = len(self.data_source)
        if self.replacement:
            for _ in range(self.num_samples // 32):
                yield from torch.randint(n, (32,), dtype=torch.int64, generator=g).tolist()
            r = self.num_samples % 32
            yield from torch.randint(n, (r,), dtype=torch.int64, generator=g).tolist()
        else:
            for _ in range(self.num_samples // n):
                yield from torch.randperm(n, generator=g).tolist()
            yield from torch.randperm(n, generator=g).tolist()[: self.num_samples % n]

    def _numpy_order(self, rng: np.random.Generator) -> Iterator[int]:
        n = len(self.data_source)
        if self.replacement:
            yield from rng.integers(0, n, size=self.num_samples).tolist()
        else:
            for _ in range(self.num_samples // n):
                yield from rng.permutation(n).tolist()
            yield from rng.permutation(n)[: self.num_samples % n].tolist()

    def state_dict(self) -> dict[str, Any]:
        """What fixed the order of the epoch last started: `{"seed": int}`, with a
        torch.Generator `{"generator_state": uint8 array}`; `{}` before the first epoch."""
        return dict(self._epoch_state)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Make the next `iter()` give the order `state` records (see `state_dict`)."""
        key = "generator_state" if _is_torch_generator(self.generator) else "seed"
        if not isinstance(state, dict) or not set(state) <= {key}:
            raise ValueError(
                f"RandomSampler.load_state_dict: expected {{}} or a dict with key {key!r} (from "
                f"state_dict() of a sampler with the same kind of generator), got {state!r}"
            )
        if key == "seed" and state:
            seed = state["seed"]
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(
                    f"RandomSampler.load_state_dict: 'seed' must be a non-negative int, got "
                    f"{seed!r}"
                )
            state = {"seed": int(seed)}
        elif state:
            arr = np.asarray(state["generator_state"])
            if arr.dtype != np.uint8 or arr.ndim != 1:
                raise ValueError(
                    "RandomSampler.load_state_dict: 'generator_state' must be a 1-d uint8 "
                    f"array (torch.Generator.get_state()), got {arr.dtype} {arr.shape}"
                )
            state = {"generator_state": arr}
        self._restored = state

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order, drawn anew each epoch."""

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        if _is_torch_generator(self.generator):
            import torch

            perm = torch.randperm(len(self.indices), generator=self.generator).tolist()
        else:
            perm = np.random.default_rng(draw_seed(self.generator)).permutation(len(self.indices))
        for i in perm:
            yield self.indices[int(i)]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """`num_samples` indices drawn with probability proportional to `weights` (multinomial)."""

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: Any = None,
    ) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={num_samples}"
            )
        if not isinstance(replacement, bool):
            raise ValueError(
                f"replacement should be a boolean value, but got replacement={replacement}"
            )
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(
                f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}"
            )
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(
                f"num_samples={num_samples} exceeds the {np.count_nonzero(w)} non-zero weights "
                "(cannot sample without replacement)"
            )
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        if _is_torch_generator(self.generator):
            import torch

            t = torch.multinomial(
                torch.as_tensor(self.weights),
                self.num_samples,
                self.replacement,
                generator=self.generator,
            )
            yield from t.tolist()
            return
        rng = np.random.default_rng(draw_seed(self.generator))
        p = self.weights / self.weights.sum()
        yield from rng.choice(len(p), self.num_samples, replace=self.replacement, p=p).tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of `batch_size` (the last may be short)."""

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        # the sampler's iter() now, not at the first batch: a random sampler fixes its epoch's
        # order (and its state_dict) when the DataLoader's iterator is made
        return self._batches(iter(self.sampler))

    def _batches(self, it: Iterator[int]) -> Iterator[list[int]]:
        if self.drop_last:
            for batch in zip(*([it] * self.batch_size)):
                yield [*batch]
        else:
            batch = [*itertools.islice(it, self.batch_size)]
            while batch:
                yield batch
                batch = [*itertools.islice(it, self.batch_size)]

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size  # type: ignore[arg-type]
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size  # type: ignore


class DistributedSampler(Sampler):
    """The share of `dataset` for replica `rank` of `num_replicas` (one per host or process).

    Defaults: `num_replicas=jax.process_count()`, `rank=jax.process_index()`. Every replica gets
    `ceil(len / num_replicas)` indices (padded by repeating the start) or, with drop_last, the
    floor. Call `set_epoch(e)` each epoch so shuffling differs between epochs but agrees across
    replicas. Differs from torch: the shuffle is numpy's permutation seeded by `seed + epoch`.
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            import jax

            num_replicas = jax.process_count() if num_replicas is None else num_replicas
            rank = jax.process_index() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"num_replicas should be a positive integer, got {num_replicas!r}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[: self.total_size]
        return iter(indices[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use `epoch` in the shuffle seed, so each epoch has its own order."""
        self.epoch = epoch

    def state_dict(self) -> dict[str, Any]:
        """The epoch and seed that fix this replica's order (lets a DataLoader resume)."""
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or set(state) != {"epoch", "seed"}:
            raise ValueError(
                "DistributedSampler.load_state_dict: expected a dict with keys ['epoch', "
                f"'seed'], got {state!r}"
            )
        self.epoch, self.seed = int(state["epoch"]), int(state["seed"])
