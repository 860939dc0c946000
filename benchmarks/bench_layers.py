"""Forward+backward time of LeNet and a ResNet basic block: jtorch (compiled) vs torch eager.

Both sides run the same model with the same weights on CPU; the loss is mean(out²). jtorch times a
`jtorch.jit`-compiled `value_and_grad` (compilation excluded, results waited for); torch times
eager forward + backward with `torch.set_num_threads(2)`; the two are timed alternately. Prints
median milliseconds per step and the ratio torch_time / jtorch_time (> 1: jtorch is faster).

    JAX_PLATFORMS=cpu python benchmarks/bench_layers.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import jtorch  # noqa: E402
import jtorch.nn.functional as F  # noqa: E402
from jtorch import nn  # noqa: E402


def _models(nn_, F_, use_bn):
    """LeNet (seed 002 §4.3.1) and a ResNet basic block, for either library."""

    class LeNet(nn_.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn_.Conv2d(1, 6, 5)
            self.conv2 = nn_.Conv2d(6, 16, 5)
            self.fc1 = nn_.Linear(16 * 5 * 5, 120)
            self.fc2 = nn_.Linear(120, 84)
            self.fc3 = nn_.Linear(84, 10)

        def forward(self, x):
            x = F_.max_pool2d(F_.relu(self.conv1(x)), 2)
            x = F_.max_pool2d(F_.relu(self.conv2(x)), 2)
            x = x.reshape(x.shape[0], -1)
            x = F_.relu(self.fc1(x))
            x = F_.relu(self.fc2(x))
            return self.fc3(x)

    class BasicBlock(nn_.Module):
        """conv3x3 → (BN) → ReLU → conv3x3 → (BN), plus the identity, → ReLU."""

        def __init__(self, channels=64):
            super().__init__()
            self.conv1 = nn_.Conv2d(channels, channels, 3, padding=1, bias=not use_bn)
            self.bn1 = nn_.BatchNorm2d(channels) if use_bn else nn_.Identity()
            self.conv2 = nn_.Conv2d(channels, channels, 3, padding=1, bias=not use_bn)
            self.bn2 = nn_.BatchNorm2d(channels) if use_bn else nn_.Identity()

        def forward(self, x):
            out = F_.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F_.relu(out + x)

    return LeNet, BasicBlock


def _median_ms(fns, repeats: int) -> list[float]:
    """Median milliseconds of each function, timed alternately so load changes hit both alike."""
    for fn in fns:
        for _ in range(3):
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, samples in zip(fns, times):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
    return [1000 * statistics.median(samples) for samples in times]


def bench(name: str, jmodel, tmodel, shape, repeats: int) -> tuple[float, float]:
    jmodel.load_state_dict(tmodel.state_dict())
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    xj, xt = jnp.asarray(x), torch.tensor(x)

    @jtorch.jit
    def step(model, x):
        return jtorch.value_and_grad(lambda m: jnp.mean(m(x) ** 2))(model)

    def run_jtorch():
        jax.block_until_ready(step(jmodel, xj))

    def run_torch():
        tmodel.zero_grad(set_to_none=True)
        loss = (tmodel(xt) ** 2).mean()
        loss.backward()

    t_j, t_t = _median_ms([run_jtorch, run_torch], repeats)
    return t_j, t_t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(2)
    j_bn = hasattr(nn, "BatchNorm2d")  # the block uses BatchNorm once jtorch has it
    JLeNet, JBlock = _models(nn, F, j_bn)
    TLeNet, TBlock = _models(torch.nn, torch.nn.functional, j_bn)
    cases = [
        ("LeNet fwd+bwd, batch 128, 1x32x32", JLeNet(), TLeNet(), (128, 1, 32, 32)),
        (
            f"ResNet basic block{'' if j_bn else ' (no BatchNorm)'}, 64ch 32x32, batch 32",
            JBlock(),
            TBlock(),
            (32, 64, 32, 32),
        ),
    ]
    print(f"jax {jax.__version__} ({jax.devices()[0].platform}), torch {torch.__version__}, "
          f"torch threads {torch.get_num_threads()}, median of {args.repeats}")  # fmt: skip
    print(f"{'case':<55} {'jtorch ms':>10} {'torch ms':>10} {'torch/jtorch':>13}")
    for name, jm, tm, shape in cases:
        t_j, t_t = bench(name, jm, tm, shape, args.repeats)
        print(f"{name:<55} {t_j:>10.2f} {t_t:>10.2f} {t_t / t_j:>13.2f}")


if __name__ == "__main__":
    main()
