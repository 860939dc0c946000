"""Seed 002 §5: weight initialisation with `nn.init` — isinstance checks, kaiming_normal_ and
constant_ on single layers, then an `initialize_weights` function applied with `model.apply`.

Run: python examples/weight_init.py [--smoke] [--seed N]

The seed prints `weight.data`; here `.data` is the Parameter itself (so `init.zeros_(w.data)` works
in place), and the array it holds is `weight.value`, which is what gets printed.
"""

from __future__ import annotations

import argparse

import numpy as np

import jtorch
from jtorch import nn


def initialize_weights(model):
    """Visit every layer and initialise it by type (the seed's helper, unchanged)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.zeros_(m.weight.data)
            if m.bias is not None:
                nn.init.constant_(m.bias.data, 0.3)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight.data, 0.1)
            if m.bias is not None:
                nn.init.zeros_(m.bias.data)
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.fill_(1)
            m.bias.data.zero_()


class MLP(nn.Module):
    def __init__(self, **kwargs):
        super(MLP, self).__init__(**kwargs)
        self.hidden = nn.Conv2d(1, 1, 3)
        self.act = nn.ReLU()
        self.output = nn.Linear(10, 1)

    def forward(self, x):
        o = self.act(self.hidden(x))
        return self.output(o)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="same run (it is already fast)")
    parser.add_argument("--out", default=None, help="unused; accepted like the other examples")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    jtorch.manual_seed(args.seed)
    results: dict = {}

    # 5.2 single layers
    conv = nn.Conv2d(1, 3, 3)
    linear = nn.Linear(10, 1)
    results["isinstance"] = (isinstance(conv, nn.Conv2d), isinstance(linear, nn.Conv2d))
    print(*results["isinstance"], sep="\n")
    print(conv.weight.value)  # default (kaiming-uniform) init
    print(linear.weight.value)
    results["conv_default"] = np.asarray(conv.weight.value)

    nn.init.kaiming_normal_(conv.weight.data)
    print(conv.weight.value)
    nn.init.constant_(linear.weight.data, 0.3)
    print(linear.weight.value)
    results["conv_kaiming"] = np.asarray(conv.weight.value)
    results["linear_constant"] = np.asarray(linear.weight.value)

    # 5.3 an initialisation function applied to every submodule
    mlp = MLP()
    results["hidden_before"] = np.asarray(mlp.hidden.weight.value)
    print(mlp.hidden.weight.value)
    print("-------初始化-------")
    mlp.apply(initialize_weights)  # or initialize_weights(mlp)
    print(mlp.hidden.weight.value)
    results["hidden_after"] = np.asarray(mlp.hidden.weight.value)
    results["hidden_bias_after"] = np.asarray(mlp.hidden.bias.value)
    results["output_weight_after"] = np.asarray(mlp.output.weight.value)
    results["output_bias_after"] = np.asarray(mlp.output.bias.value)
    return results


if __name__ == "__main__":
    main()
