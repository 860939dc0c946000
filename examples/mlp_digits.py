"""Seed 002 §4.1 and §7: the MLP (hidden Linear, ReLU, output Linear) on the bundled Digits set
(1×8×8 images, so 64-256-10 instead of 784-256-10), trained with the seed's loop — `model.train()`,
one step per batch, accumulate `loss * batch size`; `model.eval()`, argmax accuracy — where the
step (forward, loss, backward, update) is one `jtorch.jit`-compiled function.

Run: python examples/mlp_digits.py [--epochs N] [--lr LR] [--batch-size B] [--smoke]
"""

from __future__ import annotations

import argparse

import jax.numpy as jnp

import jtorch
from jtorch import nn, optim
from jtorch.utils.data import DataLoader
from jtorch.vision import datasets


class MLP(nn.Module):
    def __init__(self, **kwargs):
        super(MLP, self).__init__(**kwargs)
        self.hidden = nn.Linear(64, 256)
        self.act = nn.ReLU()
        self.output = nn.Linear(256, 10)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)  # (N, 1, 8, 8) -> (N, 64)
        o = self.act(self.hidden(x))
        return self.output(o)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="2 epochs, for CI")
    parser.add_argument("--out", default=None, help="unused; accepted like the other examples")
    args = parser.parse_args(argv)
    epochs = 2 if args.smoke else args.epochs
    jtorch.manual_seed(args.seed)

    device = jtorch.device("cuda:0" if jtorch.cuda.is_available() else "cpu")
    train_data = datasets.Digits(train=True)
    test_data = datasets.Digits(train=False)
    train_loader = DataLoader(
        train_data, batch_size=args.batch_size, shuffle=True, drop_last=True, device=device
    )
    test_loader = DataLoader(test_data, batch_size=256, shuffle=False, device=device)

    model = MLP().to(device)
    print(model)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)

    @jtorch.jit
    def train_step(model, optimizer, data, label):
        def loss_fn(model):
            return criterion(model(data), label)

        loss, grads = jtorch.value_and_grad(loss_fn)(model)
        optimizer.step(grads)
        return loss

    @jtorch.jit
    def eval_step(model, data, label):
        output = model(data)
        preds = jnp.argmax(output, 1)
        return criterion(output, label), jnp.sum(preds == label)

    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        train_loss = 0.0
        for data, label in train_loader:
            loss = train_step(model, optimizer, data, label)
            train_loss += loss * data.shape[0]  # stays on device until printed
        train_loss = float(train_loss) / len(train_loader.dataset)

        model.eval()
        val_loss, correct = 0.0, 0
        with jtorch.no_grad():
            for data, label in test_loader:
                loss, right = eval_step(model, data, label)
                val_loss += loss * data.shape[0]
                correct += right
        val_loss = float(val_loss) / len(test_loader.dataset)
        accuracy = int(correct) / len(test_loader.dataset)
        history.append((train_loss, val_loss, accuracy))
        print(
            f"Epoch: {epoch} \tTraining Loss: {train_loss:.6f} \tValidation Loss: {val_loss:.6f}"
            f" \tAccuracy: {accuracy:.4f}"
        )
    print(f"test accuracy: {accuracy:.4f}")
    return {"history": history, "test_accuracy": accuracy, "model_repr": repr(model)}


if __name__ == "__main__":
    main()
