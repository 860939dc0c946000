"""Classification metrics that stay on device until read.

A metric state is a dict of arrays (sums and counts) updated with pure jnp functions inside
compiled steps and added across batches; `summarize` and `classification_report` read it once at
the end. Nothing here forces a host sync per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "batch_metrics",
    "merge_metrics",
    "summarize",
    "confusion_matrix",
    "precision_recall_f1",
    "classification_report",
]


def confusion_matrix(preds: jax.Array, targets: jax.Array, num_classes: int) -> jax.Array:
    """(C, C) counts: row = true class, column = predicted class (scikit-learn's convention)."""
    idx = jnp.asarray(targets).reshape(-1) * num_classes + jnp.asarray(preds).reshape(-1)
    counts = jnp.zeros(num_classes * num_classes, jnp.int32).at[idx].add(1)
    return counts.reshape(num_classes, num_classes)


def batch_metrics(
    outputs: Any,
    targets: Any,
    loss: Any = None,
    *,
    num_classes: int | None = None,
    topk: Sequence[int] = (1,),
) -> dict[str, jax.Array]:
    """Sums for one batch: loss·n, n, correct top-k counts, and a confusion matrix if asked.

    `outputs` are (N, C) scores and `targets` (N,) class indices; other shapes give loss only.
    """
    outputs, targets = jnp.asarray(outputs), jnp.asarray(targets)
    n = targets.shape[0] if targets.ndim else 1
    out: dict[str, jax.Array] = {"count": jnp.asarray(n, jnp.float32)}
    if loss is not None:
        out["loss_sum"] = jnp.asarray(loss, jnp.float32) * n
    is_classification = (
        outputs.ndim == 2 and targets.ndim == 1 and jnp.issubdtype(targets.dtype, jnp.integer)
    )
    if is_classification:
        # top_k puts the lower index first among ties, like a stable argsort of -outputs
        _, ranked = jax.lax.top_k(outputs, min(max(topk), outputs.shape[1]))
        for k in topk:
            hit = jnp.any(ranked[:, :k] == targets[:, None], axis=1)
            out[f"top{k}_correct"] = jnp.sum(hit).astype(jnp.float32)
        if num_classes is not None:
            out["confusion"] = confusion_matrix(ranked[:, 0], targets, num_classes)
    return out


def merge_metrics(total: dict[str, jax.Array] | None, batch: dict[str, jax.Array]):
    """Add a batch's sums to the running totals (None starts a new total)."""
    return batch if total is None else jax.tree.map(jnp.add, total, batch)


def summarize(total: dict[str, Any]) -> dict[str, float]:
    """Read the totals once: mean loss, accuracy and top-k accuracies as Python floats."""
    host = jax.device_get(total)
    count = float(host["count"])
    out: dict[str, float] = {}
    if "loss_sum" in host:
        out["loss"] = float(host["loss_sum"]) / max(count, 1.0)
    for key, value in host.items():
        if key.endswith("_correct"):
            k = key[: -len("_correct")]
            out["accuracy" if k == "top1" else f"{k}_accuracy"] = float(value) / max(count, 1.0)
    return out


def precision_recall_f1(confusion: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix (0 where undefined)."""
    cm = np.asarray(jax.device_get(confusion), dtype=np.float64)
    tp = np.diag(cm)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return precision, recall, f1, support.astype(np.int64)


def classification_report(
    confusion: Any, target_names: Sequence[str] | None = None, digits: int = 2
) -> str:
    """The text of scikit-learn's `classification_report`, computed from a confusion matrix."""
    precision, recall, f1, support = precision_recall_f1(confusion)
    names = list(target_names) if target_names is not None else [str(i) for i in range(len(f1))]
    if len(names) != len(f1):
        raise ValueError(f"classification_report: {len(names)} target_names for {len(f1)} classes")
    headers = ["precision", "recall", "f1-score", "support"]
    width = max(max(len(n) for n in names), len("weighted avg"), digits)
    report = ("{:>{width}s} " + " {:>9}" * len(headers)).format("", *headers, width=width)
    report += "\n\n"
    row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    for row in zip(names, precision, recall, f1, support):
        report += row_fmt.format(*row, width=width, digits=digits)
    report += "\n"
    total = int(support.sum())
    accuracy = float(np.trace(np.asarray(jax.device_get(confusion)))) / max(total, 1)
    acc_fmt = "{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f}" + " {:>9}\n"
    report += acc_fmt.format("accuracy", "", "", accuracy, total, width=width, digits=digits)
    weights = support / max(total, 1)
    macro = (precision.mean(), recall.mean(), f1.mean())
    weighted = ((precision * weights).sum(), (recall * weights).sum(), (f1 * weights).sum())
    report += row_fmt.format("macro avg", *macro, total, width=width, digits=digits)
    report += row_fmt.format("weighted avg", *weighted, total, width=width, digits=digits)
    return report
