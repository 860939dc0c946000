"""Seed 001: fit y = 3x + 0.8 with nn.Linear, MSELoss and SGD, compiled with jtorch.jit.

Run: python examples/linear_regression.py [--steps N] [--lr LR] [--plot out.png]
"""

from __future__ import annotations

import argparse

import jtorch
from jtorch import nn, optim


class Lr(nn.Module):
    def __init__(self):
        super(Lr, self).__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x):
        return self.linear(x)


def main(argv: list[str] | None = None) -> tuple[float, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--plot", default=None, help="save the fitted line to this PNG")
    args = parser.parse_args(argv)

    jtorch.manual_seed(0)
    device = jtorch.device("cuda:0" if jtorch.cuda.is_available() else "cpu")
    x = jtorch.rand([50, 1], device=device)
    y = x * 3 + 0.8

    model = Lr().to(device)
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr)

    @jtorch.jit
    def train_step(model, optimizer, x, y):
        def loss_fn(model):
            return criterion(model(x), y)

        loss, grads = jtorch.value_and_grad(loss_fn)(model)
        optimizer.step(grads)
        return loss

    for i in range(args.steps):
        loss = train_step(model, optimizer, x, y)
        if (i + 1) % max(args.steps // 10, 1) == 0:
            print(f"Epoch[{i + 1}/{args.steps}], loss: {float(loss):.6f}")

    model.eval()
    w = float(model.linear.weight.value[0, 0])
    b = float(model.linear.bias.value[0])
    print(f"w = {w:.4f}, b = {b:.4f}  (true: 3, 0.8)")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np

        predict = np.asarray(model(x))
        plt.scatter(np.asarray(x), np.asarray(y), c="r")
        plt.plot(np.asarray(x), predict)
        plt.savefig(args.plot)
        print(f"plot saved to {args.plot}")
    return w, b


if __name__ == "__main__":
    main()
