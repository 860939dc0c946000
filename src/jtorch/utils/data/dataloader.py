"""DataLoader: batches of a dataset as jax arrays, read in parallel by worker processes.

Workers (`num_workers > 0`) are processes started with the `fork` method where the platform has it
(start-up in milliseconds; measured against threads in benchmarks/bench_dataloader.py, processes
win on image pipelines because PIL and numpy work holds the GIL). Workers only fetch samples and
collate them into numpy arrays; JAX is used in the main process only, where batches become jax
arrays (optionally placed on a `device=` or `sharding=` one batch ahead of the consumer).

Randomness: shuffling draws a fresh seed from jtorch's global RNG (or `generator`) each epoch, so
`jtorch.manual_seed(s)` fixes every epoch's order. Each worker seeds Python's `random` and
`numpy.random` with `base_seed + worker_id`, where `base_seed` is drawn the same way when the
iterator is created, so random transforms in workers are reproducible too. With `num_workers=0`,
transforms use the main process's `random` module: seed it with `random.seed(...)`.

Samples should be numpy arrays, PIL images or Python values (TensorDataset stores numpy). A
dataset that builds jax arrays in `__getitem__` calls into JAX inside a forked worker; give such
a dataset `multiprocessing_context='spawn'` (workers then import jtorch and start slower).
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from jtorch.utils.data import _worker
from jtorch.utils.data._rng import draw_seed
from jtorch.utils.data.collate import _collate_numpy, _convert_numpy, _to_jax, default_collate
from jtorch.utils.data.dataset import Dataset, IterableDataset
from jtorch.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]

_POLL_S = 0.2


def _resolve_placement(device: Any, sharding: Any) -> Any:
    if device is not None and sharding is not None:
        raise ValueError("DataLoader: give at most one of `device` and `sharding`, got both")
    if sharding is not None:
        return sharding
    if device is None:
        return None
    from jtorch._device import resolve_device

    return resolve_device(device)


def _spans_processes(placement: Any) -> bool:
    """Whether `placement` is a sharding over devices of several processes."""
    import jax

    return isinstance(placement, jax.sharding.Sharding) and not placement.is_fully_addressable


def _global_batch(data: Any, sharding: Any) -> Any:
    """This process's batch as its part of one global array per leaf (split along dim 0 over
    `sharding`), assembled by `jax.make_array_from_process_local_data`."""
    import jax

    def place(x: Any) -> Any:
        x = _to_jax(x, None)
        if isinstance(x, jax.Array):
            return jax.make_array_from_process_local_data(sharding, np.asarray(x))
        return x

    return jax.tree_util.tree_map(place, data)


class DataLoader:
    """Iterate over `dataset` in batches (torch.utils.data.DataLoader).

    Keyword-only jtorch options: `device=` (a jtorch.device, 'cpu'/'cuda:0' or a jax.Device) or
    `sharding=` (a jax.sharding.Sharding) places every batch there, one batch ahead of the
    consumer (a sharding over several processes' devices: each process's batch becomes its part
    of the global batch, split along dim 0); `as_numpy=True` yields numpy batches;
    `worker_mode='thread'` uses threads instead of processes. `state_dict()`/`load_state_dict()`
    (torchdata's StatefulDataLoader names) save and restore the position in an epoch, so a resumed
    run continues with the batches it would have seen next. Differs from torch: batches are jax
    arrays (float64/int64 become float32/int32 unless x64 is on); `pin_memory` is accepted and
    ignored (device_put is already asynchronous).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Any = None,
        batch_sampler: Any = None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        device: Any = None,
        sharding: Any = None,
        as_numpy: bool = False,
        worker_mode: str = "process",
    ) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                f"multiprocessing (got num_workers={num_workers!r})"
            )
        if timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got timeout={timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing."
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor "
                "to None."
            )
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError(
                f"prefetch_factor option should be non-negative, got {prefetch_factor}"
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if worker_mode not in ("process", "thread"):
            raise ValueError(f"worker_mode must be 'process' or 'thread', got {worker_mode!r}")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        self.persistent_workers = persistent_workers
        self.generator = generator
        self.as_numpy = as_numpy
        self.worker_mode = worker_mode
        self._placement = _resolve_placement(device, sharding)
        self._is_iterable = isinstance(dataset, IterableDataset)

        if self._is_iterable:
            if shuffle not in {False, None}:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified shuffle option, but "
                    f"got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified sampler option, but "
                    f"got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                    f"but got batch_sampler={batch_sampler}"
                )
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with "
                "drop_last"
            )
        if sampler is None and not self._is_iterable:
            sampler = (
                RandomSampler(dataset, generator=generator)
                if shuffle
                else SequentialSampler(dataset)
            )
        if batch_size is not None and batch_sampler is None and not self._is_iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None or (
            self._is_iterable and batch_size is not None
        )
        self._user_collate = collate_fn
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else _default_convert_marker
        self.collate_fn = collate_fn
        self._pool: _WorkerPool | None = None
        self._served = 0  # batches the latest iterator handed out
        self._resume_at = 0  # batches the next iterator skips (from load_state_dict)
        self._base_seed: int | None = None  # drawn by the latest iterator or worker pool
        self._restored_seed: int | None = None  # from load_state_dict: used by the next one

    # ------------------------------------------------------------------ helpers
    def _fetch_spec(self) -> dict:
        """What a fetcher needs; default collation runs as numpy collation (no JAX in workers)."""
        collate = self.collate_fn
        numpy_collate = collate is default_collate or collate is _default_convert_marker
        if collate is default_collate:
            collate = _collate_numpy
        elif collate is _default_convert_marker:
            collate = _convert_numpy
        fast = (
            numpy_collate
            and self._auto_collation
            and not self._is_iterable
            and callable(getattr(self.dataset, "_get_batch", None))
        )
        return dict(
            dataset=self.dataset,
            iterable=self._is_iterable,
            auto_collation=self._auto_collation,
            collate_fn=collate,
            batch_size=self.batch_size,
            drop_last=self.drop_last,
            fast=fast,
        )

    def _index_iter(self) -> Iterator:
        if self._is_iterable:
            return itertools.repeat(None)
        indices = iter(self.batch_sampler if self._auto_collation else self.sampler)
        skip, self._resume_at = self._resume_at, 0
        self._served = skip
        return itertools.islice(indices, skip, None) if skip else indices

    def _draw_base_seed(self) -> int:
        """The base seed of a new iterator or worker pool (workers seed `numpy.random` from
        it): the one `load_state_dict` restored, once, else a draw from `generator`."""
        seed, self._restored_seed = self._restored_seed, None
        self._base_seed = draw_seed(self.generator) if seed is None else seed
        return self._base_seed

    # ------------------------------------------------------------------ resuming
    def _order_source(self) -> Any:
        """The sampler whose state fixes this loader's order; refuses one it cannot restore."""
        source = self.sampler if self.sampler is not None else self.batch_sampler
        if self._is_iterable or not (
            hasattr(source, "state_dict") and hasattr(source, "load_state_dict")
        ):
            what = "an IterableDataset" if self._is_iterable else type(source).__name__
            raise TypeError(
                f"DataLoader.state_dict: the order of {what} cannot be restored; resuming "
                "mid-epoch needs a sampler whose order follows from its state_dict() "
                "(RandomSampler, i.e. shuffle=True, DistributedSampler, SequentialSampler)"
            )
        return source

    def state_dict(self) -> dict[str, Any]:
        """The position in the current epoch: batches handed out so far and the sampler's state
        (DistributedSampler: its epoch; RandomSampler: the seed of the epoch in progress). The
        caller saves the RNG it shuffles with (`jtorch.get_rng_state()` or its generator's) at
        the same point, so later epochs draw the same orders. Random transforms are not
        replayed."""
        return {
            "batches_yielded": self._served,
            "sampler": self._order_source().state_dict(),
            "base_seed": self._base_seed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Make the next `iter(loader)` continue after the batches `state` had handed out."""
        source = self._order_source()
        if not isinstance(state, dict) or set(state) != {"base_seed", "batches_yielded", "sampler"}:
            keys = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                "DataLoader.load_state_dict: expected a dict with keys ['base_seed', "
                f"'batches_yielded', 'sampler'] (from DataLoader.state_dict()), got {keys}"
            )
        base_seed = state["base_seed"]
        if base_seed is not None and (
            isinstance(base_seed, bool) or not isinstance(base_seed, (int, np.integer))
        ):
            raise ValueError(
                f"DataLoader.load_state_dict: 'base_seed' must be None or an int, got {base_seed!r}"
            )
        served = state["batches_yielded"]
        if not isinstance(served, int) or not 0 <= served <= len(self):
            raise ValueError(
                f"DataLoader.load_state_dict: 'batches_yielded' must be an int in [0, "
                f"{len(self)}] (this loader's batches per epoch), got {served!r}"
            )
        source.load_state_dict(state["sampler"])
        if served == len(self):  # a finished epoch: the next iterator starts a new one,
            served, base_seed = 0, None  # drawing new seeds as the run would have
            if isinstance(source, RandomSampler):
                source.load_state_dict({})
        self._resume_at = served
        self._restored_seed = None if base_seed is None else int(base_seed)

    def _finish(self, data: Any) -> Any:
        if self.as_numpy:
            return data
        if _spans_processes(self._placement):
            return _global_batch(data, self._placement)
        return _to_jax(data, self._placement)

    def __iter__(self) -> Iterator:
        if self.num_workers == 0:
            it: Iterator = _SingleProcessIter(self)
        else:
            if self.persistent_workers:
                if self._pool is None or not self._pool.alive:
                    self._pool = _WorkerPool(self)
                pool = self._pool
            else:
                pool = _WorkerPool(self)
            it = _MultiProcessIter(self, pool)
        if self._placement is not None and not self.as_numpy:
            it = _Lookahead(it)
        return _Counted(self, it)

    def __len__(self) -> int:
        if self._is_iterable:
            length = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is not None:
                if self.drop_last:
                    return length // self.batch_size
                return -(-length // self.batch_size)
            return length
        if self._auto_collation:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None and sys is not None and not sys.is_finalizing():
            pool.shutdown()


def _default_convert_marker(data: Any) -> Any:
    """The collate_fn used without auto-batching (torch's default_convert)."""
    from jtorch.utils.data.collate import default_convert

    return default_convert(data)


class _Counted:
    """Counts the batches handed to the caller (the loader's position for `state_dict`)."""

    def __init__(self, loader: DataLoader, it: Iterator) -> None:
        self._loader = loader
        self._it = it

    def __iter__(self) -> _Counted:
        return self

    def __len__(self) -> int:
        return len(self._it)  # type: ignore[arg-type]

    def __next__(self) -> Any:
        out = next(self._it)
        self._loader._served += 1
        return out


class _Lookahead:
    """Keeps the next batch converted (its device transfer in flight) ahead of the caller."""

    def __init__(self, it: Iterator) -> None:
        self._it = it
        self._next: Any = None
        self._done = False

    def __iter__(self) -> _Lookahead:
        return self

    def __len__(self) -> int:
        return len(self._it)  # type: ignore[arg-type]

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        if self._next is None:
            self._next = (next(self._it),)
        out = self._next[0]
        try:
            self._next = (next(self._it),)
        except StopIteration:
            self._done = True
        return out


class _SingleProcessIter:
    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        self._base_seed = loader._draw_base_seed()  # drawn before the sampler's, as torch
        self._index_iter = loader._index_iter()
        self._fetcher = _worker.make_fetcher(loader._fetch_spec())

    def __iter__(self) -> _SingleProcessIter:
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def __next__(self) -> Any:
        index = next(self._index_iter)
        try:
            data = self._fetcher.fetch(index)
        except StopIteration:
            raise
        except Exception as exc:
            if hasattr(exc, "add_note"):
                exc.add_note(f"DataLoader: raised {self._fetcher.where()}")
            raise
        return self._loader._finish(data)


class _WorkerPool:
    """Worker processes (or threads), one task queue each, one shared result queue."""

    def __init__(self, loader: DataLoader) -> None:
        self.num_workers = loader.num_workers
        self.is_thread = loader.worker_mode == "thread"
        self.epoch = 0
        base_seed = loader._draw_base_seed()
        spec = loader._fetch_spec()
        if self.is_thread:
            self.result_queue: Any = queue.Queue()
            make_queue, make_worker = queue.Queue, threading.Thread
        else:
            ctx = loader.multiprocessing_context
            if ctx is None:
                ctx = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            if isinstance(ctx, str):
                ctx = multiprocessing.get_context(ctx)
            self.result_queue = ctx.Queue()
            make_queue, make_worker = ctx.Queue, ctx.Process
        self.index_queues = []
        self.workers = []
        with warnings.catch_warnings():
            # JAX warns on fork because it is multithreaded; workers never call into JAX.
            warnings.filterwarnings("ignore", message=r".*os\.fork\(\) was called.*")
            warnings.filterwarnings("ignore", message=r".*fork\(\).*multithreaded.*")
            for i in range(self.num_workers):
                iq = make_queue()
                w = make_worker(
                    target=_worker.worker_loop,
                    args=(
                        spec,
                        iq,
                        self.result_queue,
                        i,
                        self.num_workers,
                        (base_seed + i) % 2**63,
                        loader.worker_init_fn,
                        self.is_thread,
                    ),
                    daemon=True,
                )
                w.start()
                self.index_queues.append(iq)
                self.workers.append(w)
        self.alive = True

    def dead_workers(self) -> list:
        return [w for w in self.workers if not w.is_alive()]

    def shutdown(self) -> None:
        if not getattr(self, "alive", False):
            return
        self.alive = False
        for q in self.index_queues:
            try:
                q.put(None)
            except Exception:  # noqa: BLE001
                pass
        for w in self.workers:
            w.join(timeout=1.0)
            if not self.is_thread and w.is_alive():
                w.terminate()
        if not self.is_thread:
            for q in [*self.index_queues, self.result_queue]:
                try:
                    q.cancel_join_thread()
                    q.close()
                except Exception:  # noqa: BLE001 - interpreter shutting down
                    pass

    def __del__(self) -> None:
        if sys is not None and not sys.is_finalizing():
            self.shutdown()


class _MultiProcessIter:
    """torch's in-order protocol: tasks go round-robin, results are reordered by send index."""

    def __init__(self, loader: DataLoader, pool: _WorkerPool) -> None:
        self._loader = loader
        self._pool = pool
        pool.epoch += 1
        self._epoch = pool.epoch
        self._persistent = loader.persistent_workers
        self._timeout = loader.timeout
        self._index_iter = loader._index_iter()
        self._n = pool.num_workers
        self._active = [True] * self._n
        self._cycle = itertools.cycle(range(self._n))
        self._task_info: dict[int, tuple] = {}
        self._send_idx = 0
        self._rcvd_idx = 0
        self._finished = False
        for _ in range(loader.prefetch_factor * self._n):
            self._try_put_index()

    def __iter__(self) -> _MultiProcessIter:
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def _try_put_index(self) -> None:
        if not any(self._active):
            return
        try:
            index = next(self._index_iter)
        except StopIteration:
            return
        for _ in range(self._n):
            wid = next(self._cycle)
            if self._active[wid]:
                break
        self._pool.index_queues[wid].put((self._epoch, self._send_idx, index))
        self._task_info[self._send_idx] = (wid,)
        self._send_idx += 1

    def _get_data(self) -> tuple[int, Any]:
        start = time.monotonic()
        while True:
            try:
                epoch, idx, data = self._pool.result_queue.get(timeout=_POLL_S)
            except queue.Empty:
                dead = self._pool.dead_workers()
                if dead:
                    self._shutdown(force=True)
                    if self._pool.is_thread:
                        raise RuntimeError("DataLoader worker thread exited unexpectedly") from None
                    pids = ", ".join(str(w.pid) for w in dead)
                    codes = ", ".join(str(w.exitcode) for w in dead)
                    raise RuntimeError(
                        f"DataLoader worker (pid(s) {pids}) exited unexpectedly with exit "
                        f"code(s) {codes}; its batch is lost (was it killed, e.g. out of memory?)"
                    ) from None
                if self._timeout > 0 and time.monotonic() - start >= self._timeout:
                    self._shutdown(force=True)
                    raise RuntimeError(
                        f"DataLoader timed out after {self._timeout} seconds"
                    ) from None
                continue
            if epoch == self._epoch:
                return idx, data

    def _process(self, data: Any) -> Any:
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        return self._loader._finish(data)

    def __next__(self) -> Any:
        if self._finished:
            raise StopIteration
        while True:
            while self._rcvd_idx < self._send_idx:
                info = self._task_info[self._rcvd_idx]
                if len(info) == 2 or self._active[info[0]]:
                    break
                del self._task_info[self._rcvd_idx]  # its worker is exhausted: skip
                self._rcvd_idx += 1
            else:
                self._shutdown()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:
                data = self._task_info.pop(self._rcvd_idx)[1]
                self._rcvd_idx += 1
                return self._process(data)
            idx, data = self._get_data()
            if isinstance(data, _worker._Stop):
                self._active[data.worker_id] = False  # its pending tasks are skipped above
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                self._task_info[idx] += (data,)
                continue
            del self._task_info[idx]
            self._rcvd_idx += 1
            return self._process(data)

    def _shutdown(self, force: bool = False) -> None:
        self._finished = True
        if force or not self._persistent:
            self._pool.shutdown()

    def __del__(self) -> None:
        if not getattr(self, "_persistent", True) and sys is not None and not sys.is_finalizing():
            self._pool.shutdown()
