"""Training: compiled train/eval steps (stateful and functional), metrics, and the fit loop."""

from jtorch.train.fit import History, evaluate, fit
from jtorch.train.metrics import (
    batch_metrics,
    classification_report,
    confusion_matrix,
    merge_metrics,
    summarize,
)
from jtorch.train.step import (
    TrainState,
    make_eval_step,
    make_train_step,
    stateful_train_step,
    train_step_body,
)

__all__ = [
    "TrainState",
    "make_train_step",
    "make_eval_step",
    "stateful_train_step",
    "train_step_body",
    "evaluate",
    "fit",
    "History",
    "batch_metrics",
    "merge_metrics",
    "summarize",
    "confusion_matrix",
    "classification_report",
]
