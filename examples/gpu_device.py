"""Seed 001 §2: run the linear regression on a GPU when there is one — pick the device with
`jtorch.device("cuda:0" if jtorch.cuda.is_available() else "cpu")`, move the model with
`model.to(device)` and the data with `jax.device_put`, train, and bring the prediction back to
the host as numpy (the seed's `predict.cpu().detach().numpy()`). On a machine without a GPU it
runs on the CPU.

Run: python examples/gpu_device.py [--steps N] [--device cpu|cuda:0] [--out DIR] [--smoke]

Writes the fitted line to DIR/linear_regression.png (DIR defaults to a new temporary directory).
"""

from __future__ import annotations

import argparse
import os
import tempfile

import jax
import numpy as np

import jtorch
from jtorch import nn, optim


class Lr(nn.Module):
    def __init__(self):
        super(Lr, self).__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x):
        out = self.linear(x)
        return out


def jax_device(device: jtorch.device) -> jax.Device:
    """The jax.Device behind a torch-style device name ('cuda' is JAX's 'gpu' platform)."""
    platform = "gpu" if device.type == "cuda" else device.type
    return jax.devices(platform)[device.index or 0]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--device", default=None, help="default: cuda:0 if available, else cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="directory for the plot")
    parser.add_argument("--smoke", action="store_true", help="300 steps, for CI")
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="gpu_device_")
    os.makedirs(out, exist_ok=True)
    steps = 300 if args.smoke else args.steps
    jtorch.manual_seed(args.seed)

    # 1. data
    x = jtorch.rand([50, 1])
    y = x * 3 + 0.8

    # 2. device, model, loss and optimizer
    device = jtorch.device(args.device or ("cuda:0" if jtorch.cuda.is_available() else "cpu"))
    print(repr(device))
    x, y = jax.device_put(x, jax_device(device)), jax.device_put(y, jax_device(device))
    model = Lr().to(device)
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr)

    @jtorch.jit
    def train_step(model, optimizer, x, y):
        def loss_fn(model):
            return criterion(y, model(x))

        loss, grads = jtorch.value_and_grad(loss_fn)(model)
        optimizer.step(grads)
        return loss

    # 3. training
    first_loss = None
    for i in range(steps):
        loss = train_step(model, optimizer, x, y)
        first_loss = float(loss) if first_loss is None else first_loss
        if (i + 1) % max(steps // 10, 1) == 0:
            print(f"Epoch[{i}/{steps}], loss: {float(loss):.6f}")

    # 4. evaluation: the prediction comes back to the host as numpy
    model.eval()
    predict = model(x)
    param_devices = {d.platform for p in model.parameters() for d in p.value.devices()}
    predict_device = next(iter(predict.devices())).platform
    predict = np.asarray(jax.device_get(predict))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot = os.path.join(out, "linear_regression.png")
    plt.figure()
    plt.scatter(np.asarray(x), np.asarray(y), c="r")
    plt.plot(np.asarray(x), predict)
    plt.savefig(plot)
    plt.close()
    w = float(model.linear.weight.value[0, 0])
    b = float(model.linear.bias.value[0])
    print(f"w = {w:.4f}, b = {b:.4f}  (true: 3, 0.8); plot saved to {plot}")
    return {
        "device": str(device),
        "param_platforms": param_devices,
        "predict_platform": predict_device,
        "first_loss": first_loss,
        "final_loss": float(loss),
        "w": w,
        "b": b,
        "plot": plot,
    }


if __name__ == "__main__":
    main()
