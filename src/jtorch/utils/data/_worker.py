"""What runs inside a DataLoader worker: fetch samples, collate to numpy, send them back.

Nothing here imports or calls JAX, so workers never initialise an accelerator backend.
"""

from __future__ import annotations

import itertools
import queue
import random
import threading
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["WorkerInfo", "get_worker_info"]

_POLL_S = 0.2
_local = threading.local()


@dataclass(frozen=True)
class WorkerInfo:
    """Inside a worker: its `id`, the `num_workers`, its `seed` and its copy of `dataset`."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


def get_worker_info() -> WorkerInfo | None:
    """The current worker's `WorkerInfo`, or None in the main process (torch's get_worker_info)."""
    return getattr(_local, "info", None)


class _Stop:
    """An iterable dataset's copy in worker `worker_id` is exhausted."""

    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its traceback."""

    def __init__(self, exc: BaseException, where: str) -> None:
        self.exc_type = type(exc)
        self.msg = f"Caught {type(exc).__name__} {where}.\nOriginal " + "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__)
        )

    def __reduce__(self) -> Any:  # an unpicklable exception class falls back to RuntimeError
        try:
            import pickle

            pickle.dumps(self.exc_type)
            exc_type = self.exc_type
        except Exception:  # noqa: BLE001
            exc_type = RuntimeError
        return (_rebuild_wrapper, (exc_type, self.msg))

    def reraise(self) -> None:
        msg = self.msg
        if self.exc_type is KeyError:  # KeyError would show the message as a quoted repr
            msg = KeyError(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:  # noqa: BLE001
            exc = RuntimeError(msg)
        raise exc


def _rebuild_wrapper(exc_type: type, msg: str) -> ExceptionWrapper:
    w = ExceptionWrapper.__new__(ExceptionWrapper)
    w.exc_type, w.msg = exc_type, msg
    return w


class _MapFetcher:
    """Reads one batch of a map-style dataset: samples at the indices, then `collate_fn`."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Any, fast: bool) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.fast = fast  # the dataset collates whole batches itself (TensorDataset)
        self.current: Any = None

    def fetch(self, index: Any) -> Any:
        if not self.auto_collation:
            self.current = index
            return self.collate_fn(self.dataset[index])
        if self.fast:
            self.current = index
            return self.dataset._get_batch(index)
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            self.current = index
            data = getitems(index)
        else:
            data = []
            for i in index:
                self.current = i
                data.append(self.dataset[i])
        self.current = ("batch", index)
        return self.collate_fn(data)

    def where(self) -> str:
        cur = self.current
        if isinstance(cur, tuple) and cur and cur[0] == "batch":
            return f"while collating the batch of sample indices {list(cur[1])}"
        if isinstance(cur, list):
            return f"while loading the batch of sample indices {cur}"
        return f"while loading sample index {cur}"


class _IterFetcher:
    """Reads the next batch from an iterable dataset's iterator."""

    def __init__(
        self, dataset: Any, auto_collation: bool, collate_fn: Any, batch_size: Any, drop_last: bool
    ) -> None:
        self.it = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.count = 0

    def fetch(self, _: Any = None) -> Any:
        if not self.auto_collation:
            self.count += 1
            return self.collate_fn(next(self.it))
        data = []
        for item in itertools.islice(self.it, self.batch_size):
            self.count += 1
            data.append(item)
        if not data or (self.drop_last and len(data) < self.batch_size):
            raise StopIteration
        return self.collate_fn(data)

    def where(self) -> str:
        return f"while loading stream sample number {self.count} (0-based) of the iterable dataset"


def make_fetcher(spec: dict) -> Any:
    if spec["iterable"]:
        return _IterFetcher(
            spec["dataset"],
            spec["auto_collation"],
            spec["collate_fn"],
            spec["batch_size"],
            spec["drop_last"],
        )
    return _MapFetcher(spec["dataset"], spec["auto_collation"], spec["collate_fn"], spec["fast"])


def _parent_alive(is_thread: bool) -> bool:
    if is_thread:
        return threading.main_thread().is_alive()
    import multiprocessing

    parent = multiprocessing.parent_process()
    return parent is None or parent.is_alive()


def worker_loop(
    spec: dict,
    index_queue: Any,
    result_queue: Any,
    worker_id: int,
    num_workers: int,
    seed: int,
    worker_init_fn: Any,
    is_thread: bool,
) -> None:
    """Serve (epoch, send_idx, indices) tasks until a None task or the parent dies."""
    if not is_thread:
        random.seed(seed)
        np.random.seed(seed % 2**32)
    _local.info = WorkerInfo(worker_id, num_workers, seed, spec["dataset"])
    init_error = None
    if worker_init_fn is not None:
        try:
            worker_init_fn(worker_id)
        except Exception as exc:  # noqa: BLE001
            init_error = ExceptionWrapper(
                exc, f"in worker_init_fn of DataLoader worker {worker_id}"
            )
    fetcher, epoch_seen, exhausted = None, None, False
    try:
        while True:
            try:
                task = index_queue.get(timeout=_POLL_S)
            except queue.Empty:
                if not _parent_alive(is_thread):
                    break
                continue
            if task is None:
                break
            epoch, send_idx, payload = task
            if init_error is not None:
                result_queue.put((epoch, send_idx, init_error))
                continue
            if epoch != epoch_seen:  # a new epoch restarts an iterable dataset's iterator
                epoch_seen, fetcher, exhausted = epoch, None, False
            if exhausted:
                result_queue.put((epoch, send_idx, _Stop(worker_id)))
                continue
            try:
                if fetcher is None:
                    fetcher = make_fetcher(spec)
                data = fetcher.fetch(payload)
            except StopIteration:
                exhausted, data = True, _Stop(worker_id)
            except Exception as exc:  # noqa: BLE001
                where = fetcher.where() if fetcher is not None else "while creating the iterator"
                data = ExceptionWrapper(exc, f"in DataLoader worker process {worker_id} {where}")
            result_queue.put((epoch, send_idx, data))
            del data
    except KeyboardInterrupt:
        pass
    if not is_thread and hasattr(result_queue, "cancel_join_thread"):
        result_queue.cancel_join_thread()
