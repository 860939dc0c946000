"""Seed 002 §4.3 and §7: LeNet (or the 32×32 AlexNet variant, `--model alexnet`) on the bundled
Digits set upsampled once from 8×8 to 32×32, trained with `jtorch.train.fit` and scored with
`jtorch.train.evaluate(..., num_classes=10)`, which prints scikit-learn's classification report.

Run: python examples/lenet_alexnet_digits.py [--model lenet|alexnet] [--epochs N] [--lr LR]
     [--batch-size B] [--out DIR] [--smoke]

Writes the loss/accuracy curves to DIR/curves.png (DIR defaults to a new temporary directory).
"""

from __future__ import annotations

import argparse
import os
import tempfile

import jax
import numpy as np

import jtorch
import jtorch.vision.models
from jtorch import nn, optim
from jtorch.train import evaluate, fit
from jtorch.utils.data import DataLoader, TensorDataset
from jtorch.vision import datasets, models


def upsampled_digits(train: bool, size: int = 32, limit: int | None = None) -> TensorDataset:
    """Digits images resized once (bilinear) from (N, 1, 8, 8) to (N, 1, size, size)."""
    data = datasets.Digits(train=train)
    images, labels = data.data, data.targets
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    images = jax.image.resize(images, (len(images), 1, size, size), method="bilinear")
    return TensorDataset(np.asarray(images), np.asarray(labels, np.int32))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["lenet", "alexnet"], default="lenet")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="directory for curves.png")
    parser.add_argument("--smoke", action="store_true", help="2 epochs (alexnet: 1, on 320 images)")
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="lenet_alexnet_digits_")
    os.makedirs(out, exist_ok=True)
    jtorch.manual_seed(args.seed)

    small_alexnet = args.smoke and args.model == "alexnet"
    epochs = (1 if small_alexnet else 2) if args.smoke else args.epochs
    train_data = upsampled_digits(True, limit=320 if small_alexnet else None)
    test_data = upsampled_digits(False)
    train_loader = DataLoader(train_data, batch_size=args.batch_size, shuffle=True, drop_last=True)
    test_loader = DataLoader(test_data, batch_size=256)

    model = models.lenet() if args.model == "lenet" else models.alexnet_small()
    print(model)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    plot = os.path.join(out, "curves.png")
    history = fit(
        model,
        optimizer,
        criterion,
        train_loader,
        test_loader,
        epochs=epochs,
        progress=not args.smoke,
        plot=plot,
    )
    result = evaluate(model, test_loader, criterion, num_classes=10)
    print(result["report"])
    print(f"test accuracy: {result['accuracy']:.4f}")
    return {"history": dict(history), "eval": result, "plot": plot, "model_repr": repr(model)}


if __name__ == "__main__":
    main()
