"""Seed 002 §4.2: custom layers — MyLayer, MyListDense, MyDictDense, a hand-written corr2d/Conv2D,
comp_conv2d's padding and stride shapes, and a hand-written pool2d.

Run: python examples/custom_layers.py [--smoke] [--out DIR]

The seed fills `Y[i, j]` one element at a time; jax arrays are immutable, so `corr2d` and `pool2d`
here sum (or max) over the kernel's offsets instead — a loop over the few kernel positions, not
over output elements — and give the same numbers.
"""

from __future__ import annotations

import argparse

import jax.numpy as jnp

import jtorch
from jtorch import nn


# 4.2.1 a layer without parameters
class MyLayer(nn.Module):
    def __init__(self, **kwargs):
        super(MyLayer, self).__init__(**kwargs)

    def forward(self, x):
        return x - x.mean()


# 4.2.2 layers with parameters: ParameterList and ParameterDict
class MyListDense(nn.Module):
    def __init__(self):
        super(MyListDense, self).__init__()
        self.params = nn.ParameterList([nn.Parameter(jtorch.randn(4, 4)) for i in range(3)])
        self.params.append(nn.Parameter(jtorch.randn(4, 1)))

    def forward(self, x):
        for i in range(len(self.params)):
            x = jnp.matmul(x, jnp.asarray(self.params[i]))
        return x


class MyDictDense(nn.Module):
    def __init__(self):
        super(MyDictDense, self).__init__()
        self.params = nn.ParameterDict(
            {
                "linear1": nn.Parameter(jtorch.randn(4, 4)),
                "linear2": nn.Parameter(jtorch.randn(4, 1)),
            }
        )
        self.params.update({"linear3": nn.Parameter(jtorch.randn(4, 2))})  # added later

    def forward(self, x, choice="linear1"):
        return jnp.matmul(x, jnp.asarray(self.params[choice]))


# 4.2.3 two-dimensional cross-correlation and a Conv2D layer built on it
def corr2d(X, K):
    """Y[i, j] = sum(X[i:i+h, j:j+w] * K), summed over the h·w kernel offsets."""
    X, K = jnp.asarray(X, jnp.float32), jnp.asarray(K, jnp.float32)
    h, w = K.shape
    out_h, out_w = X.shape[0] - h + 1, X.shape[1] - w + 1
    Y = jnp.zeros((out_h, out_w))
    for a in range(h):
        for b in range(w):
            Y = Y + K[a, b] * X[a : a + out_h, b : b + out_w]
    return Y


class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super(Conv2D, self).__init__()
        self.weight = nn.Parameter(jtorch.randn(*kernel_size))
        self.bias = nn.Parameter(jtorch.randn(1))

    def forward(self, x):
        return corr2d(x, self.weight) + jnp.asarray(self.bias)


def comp_conv2d(conv2d, X):
    """Add batch and channel axes, run the convolution, drop them again (as in the seed)."""
    print("before:", X.shape)
    X = X.reshape((1, 1) + X.shape)  # (1, 1, H, W): batch size and channels
    print("after:", X.shape)
    Y = conv2d(X)
    return Y.reshape(Y.shape[2:])


# 4.2.4 pooling
def pool2d(X, pool_size, mode="max"):
    """Max (or mean) over every p_h×p_w window, stride 1."""
    X = jnp.asarray(X, jnp.float32)
    p_h, p_w = pool_size
    out_h, out_w = X.shape[0] - p_h + 1, X.shape[1] - p_w + 1
    windows = jnp.stack(
        [X[a : a + out_h, b : b + out_w] for a in range(p_h) for b in range(p_w)]
    )  # (p_h·p_w, out_h, out_w)
    if mode == "max":
        return windows.max(axis=0)
    if mode == "avg":
        return windows.mean(axis=0)
    raise ValueError(f"pool2d: `mode` must be 'max' or 'avg', got {mode!r}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="same run (it is already fast)")
    parser.add_argument("--out", default=None, help="unused; accepted like the other examples")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    jtorch.manual_seed(args.seed)
    results: dict = {}

    layer = MyLayer()
    results["my_layer"] = layer(jnp.array([1, 2, 3, 4, 5], dtype=jnp.float32))
    print(results["my_layer"])

    list_net = MyListDense()
    print(list_net)
    results["list_repr"] = repr(list_net)
    results["list_out"] = list_net(jtorch.ones(1, 4))
    dict_net = MyDictDense()
    print(dict_net)
    results["dict_repr"] = repr(dict_net)
    results["dict_out"] = dict_net(jtorch.ones(1, 4), "linear3")

    X = jnp.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]], dtype=jnp.float32)
    K = jnp.array([[0, 1], [2, 3]], dtype=jnp.float32)
    results["corr2d"] = corr2d(X, K)
    print("corr2d:", results["corr2d"])
    conv = Conv2D(kernel_size=(1, 2))
    results["conv2d_layer"] = conv(jtorch.ones(6, 8))
    print("Conv2D((1, 2)) on a 6x8 input:", results["conv2d_layer"].shape)

    X = jtorch.rand(8, 8)
    shapes = []
    # padding 1 on each side keeps 8x8
    conv2d = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=3, padding=1)
    shapes.append(comp_conv2d(conv2d, X).shape)
    print(shapes[-1])
    # a 5x3 kernel with padding (2, 1) keeps 8x8 too
    conv2d = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=(5, 3), padding=(2, 1))
    shapes.append(comp_conv2d(conv2d, X).shape)
    print(shapes[-1])
    # stride (3, 4) shrinks it to 2x2
    conv2d = nn.Conv2d(1, 1, kernel_size=(3, 5), padding=(0, 1), stride=(3, 4))
    shapes.append(comp_conv2d(conv2d, X).shape)
    print(shapes[-1])
    results["comp_conv2d_shapes"] = shapes

    X = jnp.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]], dtype=jnp.float32)
    results["pool_max"] = pool2d(X, (2, 2))
    results["pool_avg"] = pool2d(X, (2, 2), "avg")
    print(results["pool_max"])
    print(results["pool_avg"])
    return results


if __name__ == "__main__":
    main()
