"""Seed 002 §9.2: what an optimizer holds — one SGD step with a hand-set gradient of ones,
`param_groups`, `add_param_group`, `state_dict()` before and after 50 steps, `load_state_dict`,
`defaults` and `state`; then per-layer learning rates with parameter groups (§9.3 note 3).

Run: python examples/optimizer_state.py [--smoke] [--out DIR] [--seed N]

Differs from the seed: jax arrays hold no `.grad`, so the gradient is passed to `step`
(`optimizer.step([grad_of_weight, grad_of_weight2])`, `None` for a parameter without one), and
`zero_grad()` is a no-op; the seed's torch zeroed the gradient, so the 50 later steps use zeros.
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile

import jax.numpy as jnp
import numpy as np

import jtorch
from jtorch import nn, optim


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a small model for the lr groups")
    parser.add_argument("--out", default=None, help="directory for the saved optimizer state")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="optimizer_state_")
    jtorch.manual_seed(args.seed)
    results: dict = {}

    # a 2x2 normal weight and a gradient of ones
    weight = nn.Parameter(jtorch.randn(2, 2))
    grad = jnp.ones((2, 2))
    print(f"The data of weight before step:\n{weight.value}")
    print(f"The grad of weight before step:\n{grad}")
    results["weight_before"] = np.asarray(weight.value)
    optimizer = optim.SGD([weight], lr=0.1, momentum=0.9)
    optimizer.step([grad])
    print(f"The data of weight after step:\n{weight.value}")
    results["weight_after_one"] = np.asarray(weight.value)
    optimizer.zero_grad()  # a no-op: the next gradient is whatever is passed to step
    grad = jnp.zeros((2, 2))
    print(f"The grad of weight after optimizer.zero_grad():\n{grad}")
    print(f"optimizer.params_group is \n{optimizer.param_groups}")
    results["same_object"] = optimizer.param_groups[0]["params"][0] is weight
    print(
        f"weight in optimizer:{id(optimizer.param_groups[0]['params'][0])}\n"
        f"weight in weight:{id(weight)}\n"
    )

    weight2 = nn.Parameter(jtorch.randn(3, 3))
    optimizer.add_param_group({"params": weight2, "lr": 0.0001, "nesterov": True})
    print(f"optimizer.param_groups is\n{optimizer.param_groups}")
    results["groups_after_add"] = [
        {k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups
    ]
    opt_state_dict = copy.deepcopy(optimizer.state_dict())
    print("state_dict before step:\n", opt_state_dict)
    results["state_before"] = opt_state_dict
    results["weight2_before"] = np.asarray(weight2.value)
    for _ in range(50):
        optimizer.step([grad, None])  # weight2 has no gradient, as in the seed
    state_after = optimizer.state_dict()
    print("state_dict after step:\n", state_after)
    results["state_after"] = copy.deepcopy(state_after)
    results["weight_after_fifty"] = np.asarray(weight.value)
    results["weight2_after"] = np.asarray(weight2.value)

    if hasattr(jtorch, "save"):
        path = os.path.join(out, "optimizer_state_dict.pth")
        jtorch.save(optimizer.state_dict(), path)
        print("----------done-----------")
        state_dict = jtorch.load(path)
    else:  # jtorch.save is not in this build: reload from memory
        state_dict = copy.deepcopy(state_after)
    optimizer.load_state_dict(state_dict)
    print(f"load state_dict successfully\n{state_dict}")
    print(f"\n{optimizer.defaults}")
    print(f"\n{optimizer.state}")
    print(f"\n{optimizer.param_groups}")
    results["defaults"] = dict(optimizer.defaults)
    results["reloaded"] = copy.deepcopy(optimizer.state_dict())

    # per-layer learning rates: the fc layer at the default lr, one conv layer at 1e-2
    from jtorch.vision import models

    if args.smoke:
        net = models.lenet()
        fc, conv = net.fc3, net.conv2
    else:
        net = models.resnet18()
        fc, conv = net.fc, net.layer4[0].conv1
    optimizer = optim.SGD(
        [{"params": fc.parameters()}, {"params": conv.parameters(), "lr": 1e-2}], lr=1e-5
    )
    print(optimizer)
    results["layer_lrs"] = [g["lr"] for g in optimizer.param_groups]
    results["layer_counts"] = [len(g["params"]) for g in optimizer.param_groups]
    return results


if __name__ == "__main__":
    main()
