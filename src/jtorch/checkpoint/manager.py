"""`CheckpointManager`: numbered training checkpoints over Orbax's CheckpointManager.

Each step directory has the same layout as a `jtorch.save` directory (`arrays/` + `meta/`), so
`jtorch.load(directory / str(step))` and `jtorch ckpt inspect` read it too. The saved state is
`{"model": model.state_dict(), "optimizer": optimizer.state_dict(), "extra": extra, "rng": ...}`,
where "rng" holds the global generator's state and every RNG stream of the model (dropout);
restoring loads it all back, which continues training bit for bit, dropout included.

With `async_save=True`, `save` copies the arrays (one batched device_put, which also snapshots
donated or mutable buffers) and hands the whole synchronous Orbax save to one background thread.
jtorch does this instead of Orbax's own async mode because that mode still creates directories,
starts threads and waits on signals in the caller, which cost more than a small model's step;
retention (max_to_keep, best), intervals and the atomic commit stay Orbax's.

Several processes: every rank calls `save` and `restore` with the same arguments (Orbax's
manager joins them at each step). Arrays spanning the processes (a DDP model's replicated
parameters, FSDP shards) are written by the processes holding their shards; values each process
holds whole (the RNG state, step counts, `extra`) are written from process 0's copy.

Durability: unlike `jtorch.save` (which, like torch.save, leaves flushing to the OS), every step
is made durable before Orbax deletes older steps: each file and directory of the new step and the
rename that committed it are fsynced. A power cut at any point therefore leaves the previous
checkpoint or the new one (or both) loadable, never neither. jtorch hooks this into Orbax's
finalization (`jtorch._backend.internals.on_orbax_commit`), so it also holds with
`async_save=False`; there `save` waits for the disk and gets slower (measured: 8 MB checkpoints
took 35 ms instead of 27 ms on a virtual disk; the cost grows with the checkpoint's size).
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jtorch import _random
from jtorch._backend import internals
from jtorch.checkpoint import orbax_arrays
from jtorch.checkpoint._fsync import sync_tree
from jtorch.checkpoint._leftovers import WriterMarker
from jtorch.checkpoint._tree import CheckpointError, Decoder, Encoder, placement
from jtorch.checkpoint.orbax_io import FORMAT, VERSION, join_arrays, split_arrays

__all__ = ["CheckpointManager"]


def _plain_metrics(metrics: dict[str, Any] | None) -> dict[str, float] | None:
    if metrics is None:
        return None
    if not isinstance(metrics, dict):
        raise TypeError(f"CheckpointManager.save: `metrics` must be a dict, got {type(metrics)}")
    return {str(k): float(np.asarray(v)) for k, v in metrics.items()}


def _over_every_process(arrays: list[Any]) -> list[Any]:
    """`arrays` as Orbax's multi-process writer accepts them: arrays that already span the
    processes stay; a value each process holds whole (the RNG state, step counts, `extra`)
    becomes one array replicated over every device, and process 0's copy is the one written,
    as torch's rank-0 saves do."""
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("processes",))
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

    def writable(value: Any) -> Any:
        if isinstance(value, jax.Array) and not value.is_fully_addressable:
            return value
        value = np.asarray(value)
        if value.size == 0:
            return value  # kept in the metadata, not by Orbax
        return jax.make_array_from_process_local_data(replicated, value)

    return [writable(a) for a in arrays]


def _durable_manager(ocp: Any, directory: Path, **kwargs: Any) -> Any:
    """An orbax.checkpoint.CheckpointManager that fsyncs each new step before old ones go."""

    def sync_step(manager: Any, step: int) -> None:
        step_dir = directory / str(step)
        if step_dir.is_dir():
            sync_tree(step_dir)

    return internals.on_orbax_commit(ocp.CheckpointManager, sync_step)(directory, **kwargs)


class CheckpointManager:
    """Keeps numbered checkpoints in `directory` (orbax.checkpoint.CheckpointManager).

    Args:
        directory: where step directories `0/`, `1/`, ... go (created if missing).
        max_to_keep: keep at most this many checkpoints (None: all). With `best_metric`, the
            best ones by that metric are kept, otherwise the most recent.
        best_metric: name of the entry of `metrics` that ranks checkpoints (e.g. 'val_loss').
        best_mode: 'min' or 'max': whether lower or higher `best_metric` is better.
        save_interval_steps: after the first save, `save` only writes steps that are multiples
            of this.
        async_save: write in a background thread; `save` returns once the arrays are copied
            (a save waits for the previous one to finish first, as Orbax's does).

    Each saved step is fsynced (files, directories, the committing rename) before Orbax deletes
    older steps, so a power cut never loses both the new and the previous checkpoint.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        max_to_keep: int | None = None,
        best_metric: str | None = None,
        best_mode: str = "min",
        save_interval_steps: int = 1,
        async_save: bool = False,
    ):
        import orbax.checkpoint as ocp

        if best_mode not in ("min", "max"):
            raise ValueError(
                f"CheckpointManager: `best_mode` must be 'min' or 'max', got {best_mode!r}"
            )
        if max_to_keep is not None and max_to_keep < 1:
            raise ValueError(f"CheckpointManager: `max_to_keep` must be >= 1, got {max_to_keep}")
        if save_interval_steps < 1:
            raise ValueError(
                f"CheckpointManager: `save_interval_steps` must be >= 1, got {save_interval_steps}"
            )
        self.directory = Path(directory).absolute()
        # temporary steps of killed saves go now and before every save (see _leftovers)
        self._marker = WriterMarker(self.directory)
        self._marker.sweep()
        self.best_metric = best_metric
        best_fn = None
        if best_metric is not None:

            def best_fn(metrics: dict[str, float]) -> float:
                return metrics[best_metric]

        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep,
            best_fn=best_fn,
            best_mode=best_mode,
            keep_checkpoints_without_metrics=best_metric is None,
            save_interval_steps=save_interval_steps,
            enable_async_checkpointing=False,
            create=True,
        )
        self._ocp = ocp
        self._manager = _durable_manager(
            ocp,
            self.directory,
            options=options,
            item_handlers={
                "arrays": orbax_arrays.handler(),
                "meta": ocp.JsonCheckpointHandler(),
            },
        )
        self._writer = ThreadPoolExecutor(1, "jtorch-checkpoint") if async_save else None
        self._pending: Future | None = None

    def save(
        self,
        step: int,
        model: Any = None,
        optimizer: Any = None,
        extra: Any = None,
        metrics: dict[str, Any] | None = None,
        *,
        force: bool = False,
    ) -> bool:
        """Save the model's and optimizer's state_dicts and `extra` (any plain nesting) at `step`;
        returns False when the step is skipped by `save_interval_steps`."""
        if self.best_metric is not None and (metrics is None or self.best_metric not in metrics):
            raise ValueError(
                f"CheckpointManager.save: `metrics` must contain {self.best_metric!r} (the "
                f"best_metric), got {sorted(metrics or {})}"
            )
        ocp = self._ocp
        self.wait_until_finished()
        if not force and not self._manager.should_save(int(step)):
            return False
        self._marker.sweep()
        state = {
            "model": None if model is None else model.state_dict(),
            "optimizer": None if optimizer is None else optimizer.state_dict(),
            "extra": extra,
            "rng": {
                "global": _random.get_rng_state(),
                "modules": None if model is None else _random.module_rng_state(model),
            },
        }
        encoder = Encoder(keep_global=True)
        tree = encoder.encode(state)
        arrays = encoder.arrays
        if jax.process_count() > 1:
            arrays = _over_every_process(arrays)
        named, empty = split_arrays(arrays)
        if self._writer is not None and named:
            values = list(named.values())
            if jax.process_count() > 1:  # snapshots where the arrays are
                copies = jax.device_put(values, [v.sharding for v in values], may_alias=False)
            else:
                copies = jax.device_put(values, jax.devices("cpu")[0], may_alias=False)
            named = dict(zip(named, copies))
        meta = {"format": FORMAT, "version": VERSION, "tree": tree, "empty": empty}
        items = {"meta": ocp.args.JsonSave(meta)}
        if named:
            items["arrays"] = orbax_arrays.save_args(named)
        # force=True: whether to save was decided above, with the previous save finished
        kwargs = {"args": ocp.args.Composite(**items), "metrics": _plain_metrics(metrics)}
        if self._writer is None:
            return bool(self._manager.save(int(step), force=True, **kwargs))
        self._pending = self._writer.submit(self._manager.save, int(step), force=True, **kwargs)
        return True

    def _resolve(self, step: int | str) -> int:
        if step == "latest":
            found = self.latest_step()
        elif step == "best":
            if self.best_metric is None:
                raise ValueError("CheckpointManager.restore('best') needs `best_metric`")
            found = self.best_step()
        elif isinstance(step, int):
            found = step if step in self.all_steps() else None
        else:
            raise ValueError(f"restore: `step` must be an int, 'latest' or 'best', got {step!r}")
        if found is None:
            raise CheckpointError(
                f"CheckpointManager: no checkpoint {step!r} in {self.directory} "
                f"(steps: {self.all_steps()})"
            )
        return found

    def restore(
        self,
        step: int | str = "latest",
        model: Any = None,
        optimizer: Any = None,
        map_location: Any = None,
        *,
        restore_rng: bool = True,
    ) -> dict[str, Any]:
        """Load checkpoint `step` (an int, 'latest' or 'best') into `model` and `optimizer`;
        returns `{"step", "model", "optimizer", "extra", "rng", "metrics"}` (state_dicts
        included). With `restore_rng` (the default), also the global generator's state and the
        model's RNG streams saved with it (checkpoints from before these were saved skip this)."""
        ocp = self._ocp
        self.wait_until_finished()
        step = self._resolve(step)
        target = placement(map_location)
        sharding = (
            target
            if isinstance(target, jax.sharding.Sharding)
            else jax.sharding.SingleDeviceSharding(target)
        )
        items = {"meta": ocp.args.JsonRestore()}
        step_dir = self.directory / str(step)
        if (step_dir / "arrays").is_dir():
            metadata = self._manager.item_metadata(step)["arrays"]
            tree = getattr(metadata, "tree", metadata)
            items["arrays"] = orbax_arrays.restore_args(
                {
                    k: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=sharding)
                    for k, m in tree.items()
                }
            )
        restored = self._manager.restore(step, args=ocp.args.Composite(**items))
        named = dict(restored["arrays"]) if "arrays" in items else {}
        arrays = join_arrays(named, restored["meta"].get("empty", {}), target, step_dir)
        state = Decoder(arrays).decode(restored["meta"]["tree"])
        if model is not None:
            if state["model"] is None:
                raise CheckpointError(f"checkpoint {step} holds no model state")
            model.load_state_dict(state["model"])
        if optimizer is not None:
            if state["optimizer"] is None:
                raise CheckpointError(f"checkpoint {step} holds no optimizer state")
            optimizer.load_state_dict(state["optimizer"])
        rng = state.get("rng")
        if restore_rng and rng is not None:
            _random.set_rng_state(rng["global"])
            if model is not None and rng["modules"] is not None:
                _random.load_module_rng_state(model, rng["modules"])
        return {**state, "step": step, "metrics": self.metrics(step)}

    def metrics(self, step: int) -> dict[str, float] | None:
        """The metrics saved with `step` (None if none)."""
        meta = self._manager.metadata(step)
        return getattr(meta, "metrics", None) or None

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def best_step(self) -> int | None:
        return self._manager.best_step()

    def wait_until_finished(self) -> None:
        """Block until background saves are written (raising a failed save's error)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()
        self._manager.wait_until_finished()

    def close(self) -> None:
        try:
            self.wait_until_finished()
        finally:
            if self._writer is not None:
                self._writer.shutdown()
            self._manager.close()
            self._marker.release()

    def __enter__(self) -> CheckpointManager:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
