"""Loss and accuracy curves of a `fit` History, written to a PNG (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_history(history: dict[str, list[float]], path: str | Path) -> Path:
    """Two panels (loss; accuracy when recorded), train and validation curves per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    panels = [("loss", "loss")] + (
        [("accuracy", "accuracy")] if "train_accuracy" in history else []
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        for split in ("train", "val"):
            values: Any = history.get(f"{split}_{key}")
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
