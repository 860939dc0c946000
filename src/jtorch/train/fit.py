"""`evaluate` and `fit`: the seeds' train/eval loops around the compiled steps.

Per batch they only dispatch compiled steps and add on-device metric sums; the host reads a
value when the progress display refreshes (every `refresh_every` steps) and at epoch ends.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jtorch._backend import enable_compilation_cache
from jtorch.nn.module import Module
from jtorch.train.metrics import classification_report, merge_metrics, summarize
from jtorch.train.step import make_eval_step, stateful_train_step

__all__ = ["evaluate", "fit", "History"]


def _as_batch(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, dict):
        return batch["image"] if "image" in batch else batch["input"], batch["label"]
    inputs, targets = batch
    return jnp.asarray(inputs), jnp.asarray(targets)


def evaluate(
    model: Module,
    loader: Iterable[Any],
    loss_fn: Callable[[Any, Any], jax.Array] | None = None,
    *,
    num_classes: int | None = None,
    topk: Sequence[int] = (1,),
    target_names: Sequence[str] | None = None,
    eval_step: Callable | None = None,
) -> dict[str, Any]:
    """Loss and accuracy (and a classification report with `num_classes`) over `loader`.

    Runs in eval mode (dropout off, BatchNorm running statistics) and restores the previous mode.
    """
    was_training = model.training
    model.eval()
    step = eval_step or make_eval_step(model, loss_fn, num_classes=num_classes, topk=tuple(topk))
    total = None
    for batch in loader:
        total = merge_metrics(total, step(model, _as_batch(batch)))
    model.train(was_training)
    if total is None:
        raise ValueError("evaluate: `loader` yielded no batches")
    result: dict[str, Any] = summarize(total)
    if "confusion" in total:
        result["confusion"] = jax.device_get(total["confusion"])
        result["report"] = classification_report(total["confusion"], target_names)
    return result


class History(dict):
    """Per-epoch logs: `history['train_loss'][e]`, `history['val_accuracy'][e]`, ..."""

    def append(self, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.setdefault(key, []).append(value)


class _Progress:
    """A rich progress bar on a terminal; plain per-epoch lines otherwise; nothing when quiet."""

    def __init__(self, enabled: bool, total_steps: int | None):
        self.enabled = enabled
        self.bar = None
        if enabled and sys.stdout.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"),
            )
            self.bar.start()
        self.total_steps = total_steps
        self.task = None

    def start_epoch(self, epoch: int, epochs: int) -> None:
        if self.bar is not None:
            if self.task is not None:
                self.bar.remove_task(self.task)
            self.task = self.bar.add_task(
                f"epoch {epoch}/{epochs}", total=self.total_steps, info=""
            )

    def update(self, steps: int, info: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=steps, info=info)

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.console.print(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _improved(value: float, best: float | None, mode: str) -> bool:
    return best is None or (value < best if mode == "min" else value > best)


def fit(
    model: Module,
    optimizer: Any,
    criterion: Callable[[Any, Any], jax.Array],
    train_loader: Iterable[Any],
    val_loader: Iterable[Any] | None = None,
    *,
    epochs: int = 1,
    scheduler: Any = None,
    checkpoint: Any = None,
    resume: bool = False,
    monitor: str = "val_loss",
    mode: str = "min",
    early_stopping_patience: int | None = None,
    callbacks: Sequence[Callable[[int, dict[str, float]], Any]] = (),
    progress: bool = True,
    refresh_every: int = 20,
    plot: str | None = None,
    grad_accum_steps: int = 1,
    clip_grad_norm: float | None = None,
    compute_dtype: Any = None,
) -> History:
    """Train for `epochs` epochs; returns the per-epoch History.

    Each epoch: the train loader's sampler told the epoch (`set_epoch`, as torch's loops call it
    for a DistributedSampler), train mode, one compiled step per batch, then (with `val_loader`)
    an evaluation; `scheduler.step()` (or `scheduler.step(metric)` for ReduceLROnPlateau) once;
    `checkpoint` (a `jtorch.checkpoint.CheckpointManager`) saves model, optimizer and the epoch
    with the epoch's metrics, and `resume=True` continues from its latest save. Training stops
    early when `monitor` has not improved for `early_stopping_patience` epochs, or when a
    callback returns True. `plot` writes loss/accuracy curves to that PNG path. The compiled
    steps go to JAX's persistent compilation cache (`jtorch.enable_compilation_cache`), so the
    next run with the same model skips their compilation.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"fit: `mode` must be 'min' or 'max', got {mode!r}")
    enable_compilation_cache()
    step = stateful_train_step(
        criterion,
        grad_accum_steps=grad_accum_steps,
        clip_grad_norm=clip_grad_norm,
        compute_dtype=compute_dtype,
    )
    eval_step = make_eval_step(model, criterion) if val_loader is not None else None
    history = History()
    start_epoch = 0
    if resume:
        if checkpoint is None:
            raise ValueError("fit: resume=True needs `checkpoint=` (a CheckpointManager)")
        if checkpoint.latest_step() is not None:
            extra = checkpoint.restore("latest", model=model, optimizer=optimizer).get("extra", {})
            start_epoch = int(extra.get("epoch", checkpoint.latest_step()))
            for key, values in extra.get("history", {}).items():
                history[key] = list(values)
            if scheduler is not None and "scheduler" in extra:
                scheduler.load_state_dict(extra["scheduler"])
    try:
        total_steps = len(train_loader)  # type: ignore[arg-type]
    except TypeError:
        total_steps = None
    bar = _Progress(progress, total_steps)
    best, stale = None, 0
    try:
        set_epoch = getattr(getattr(train_loader, "sampler", None), "set_epoch", None)
        for epoch in range(start_epoch, epochs):
            if set_epoch is not None:  # DistributedSampler: this epoch's shuffle, as torch's loop
                set_epoch(epoch)
            model.train()
            bar.start_epoch(epoch + 1, epochs)
            total, n_steps, started = None, 0, time.perf_counter()
            for batch in train_loader:
                total = merge_metrics(total, step(model, optimizer, _as_batch(batch)))
                n_steps += 1
                if n_steps % refresh_every == 0:
                    running = summarize(total)
                    rate = n_steps / (time.perf_counter() - started)
                    bar.update(n_steps, f"loss {running['loss']:.4f}  {rate:.1f} steps/s")
            if total is None:
                raise ValueError("fit: `train_loader` yielded no batches")
            logs = {f"train_{k}": v for k, v in summarize(total).items()}
            logs["lr"] = float(optimizer.param_groups[0]["lr"])
            logs["epoch_time"] = time.perf_counter() - started
            if val_loader is not None:
                val = evaluate(model, val_loader, criterion, eval_step=eval_step)
                logs.update({f"val_{k}": v for k, v in val.items()})
            history.append(logs)
            bar.update(n_steps, f"loss {logs['train_loss']:.4f}")
            bar.line(
                f"epoch {epoch + 1}/{epochs}  "
                + "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if k != "epoch_time")
            )
            if scheduler is not None:
                if type(scheduler).__name__ == "ReduceLROnPlateau":
                    scheduler.step(logs.get(monitor, logs["train_loss"]))
                else:
                    scheduler.step()
            metric = logs.get(monitor)
            if checkpoint is not None:
                extra = {"epoch": epoch + 1, "history": dict(history)}
                if scheduler is not None:
                    extra["scheduler"] = scheduler.state_dict()
                metrics = {k: v for k, v in logs.items() if isinstance(v, float)}
                checkpoint.save(
                    epoch + 1, model=model, optimizer=optimizer, extra=extra, metrics=metrics
                )
            stop = any(cb(epoch, logs) is True for cb in callbacks)
            if metric is not None and not math.isnan(metric):
                if _improved(metric, best, mode):
                    best, stale = metric, 0
                else:
                    stale += 1
            if early_stopping_patience is not None and stale >= early_stopping_patience:
                bar.line(f"early stopping: {monitor} did not improve for {stale} epochs")
                stop = True
            if stop:
                break
    finally:
        bar.close()
        if checkpoint is not None and hasattr(checkpoint, "wait_until_finished"):
            checkpoint.wait_until_finished()
    if plot is not None:
        from jtorch.train.plot import plot_history

        plot_history(history, plot)
    return history
