"""Train-step throughput: jtorch (one compiled step) against PyTorch eager, same model and batch.

Cases (all on the CPU, torch with 2 threads):
- MLP 784-256-10, batch 128, Adam(lr=1e-3)              target jtorch/torch speed >= 1.5
- LeNet-5 (1×32×32), batch 128, SGD(0.01, momentum=0.9)  target >= 1.0
- ResNet-18 CIFAR stem (3×32×32), batch 64, SGD(0.1, 0.9) target >= 1.0

Both sides start from the same weights and see the same batches. Torch runs in its own process
(as a PyTorch user's program would: none of jtorch's process settings, no JAX threads), and
rounds alternate between the two processes, only one running at a time; the best round of each is
kept (many short rounds: on a shared machine the best of 20 short rounds varies far less between
runs than the best of a few long ones); the speed ratio is torch time / jtorch time
(> 1 means jtorch is faster). The first jtorch call's trace+compile time is reported too, and the
page faults per jtorch step (fewest over the rounds; JTORCH_MALLOC_TUNING=0 shows what glibc's
default malloc costs).

Run: python benchmarks/bench_train.py [--cases mlp,lenet,resnet18] [--steps N] [--rounds 20]
[--no-donate]   (steps per round default to each case's own: MLP 100, LeNet 20, ResNet-18 2)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

import jax
import numpy as np


def _torch_models(torch):
    tnn = torch.nn
    tF = torch.nn.functional

    class LeNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(1, 6, 5)
            self.conv2 = tnn.Conv2d(6, 16, 5)
            self.fc1 = tnn.Linear(400, 120)
            self.fc2 = tnn.Linear(120, 84)
            self.fc3 = tnn.Linear(84, 10)

        def forward(self, x):
            x = tF.max_pool2d(tF.relu(self.conv1(x)), 2)
            x = tF.max_pool2d(tF.relu(self.conv2(x)), 2)
            x = x.flatten(1)
            return self.fc3(tF.relu(self.fc2(tF.relu(self.fc1(x)))))

    class Block(tnn.Module):
        def __init__(self, inplanes, planes, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.relu = tnn.ReLU(inplace=True)
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = tnn.Sequential(
                    tnn.Conv2d(inplanes, planes, 1, stride, bias=False), tnn.BatchNorm2d(planes)
                )

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    class ResNet18(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(64)
            self.relu = tnn.ReLU(inplace=True)
            self.maxpool = tnn.Identity()
            widths, inplanes = [64, 128, 256, 512], 64
            for i, w in enumerate(widths):
                stride = 1 if i == 0 else 2
                setattr(
                    self,
                    f"layer{i + 1}",
                    tnn.Sequential(Block(inplanes, w, stride), Block(w, w, 1)),
                )
                inplanes = w
            self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
            self.fc = tnn.Linear(512, 10)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    mlp = lambda: tnn.Sequential(tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 10))  # noqa: E731
    return {"mlp": mlp, "lenet": LeNet, "resnet18": ResNet18}


def _jtorch_models():
    from jtorch import nn
    from jtorch.vision import models

    return {
        "mlp": lambda: nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)),
        "lenet": lambda: models.lenet(10, 1),
        "resnet18": lambda: models.resnet18(10, 3, cifar_stem=True),
    }


CASES = {
    "mlp": dict(shape=(128, 784), optimizer=("Adam", dict(lr=1e-3)), steps=100),
    "lenet": dict(shape=(128, 1, 32, 32), optimizer=("SGD", dict(lr=0.01, momentum=0.9)), steps=20),
    "resnet18": dict(shape=(64, 3, 32, 32), optimizer=("SGD", dict(lr=0.1, momentum=0.9)), steps=2),
}


def _torch_worker(conn, name: str, state: dict, x, y, threads: int) -> None:
    """Torch's side in its own process, as a PyTorch user runs it: glibc's default malloc, no
    JAX threads. Answers each requested round with its seconds per step."""
    import torch

    torch.set_num_threads(threads)
    model = _torch_models(torch)[name]().train()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    opt_name, opt_kwargs = CASES[name]["optimizer"]
    opt = getattr(torch.optim, opt_name)(model.parameters(), **opt_kwargs)
    criterion = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def run(steps):
        for _ in range(steps):
            opt.zero_grad()
            criterion(model(tx), ty).backward()
            opt.step()

    while (steps := conn.recv()) is not None:
        t0 = time.perf_counter()
        run(steps)
        conn.send((time.perf_counter() - t0) / steps)


def bench_case(
    name: str, steps: int | None, rounds: int, threads: int, donate: bool = True
) -> dict[str, float]:
    import jtorch
    from jtorch import nn, optim
    from jtorch.train import stateful_train_step

    spec = CASES[name]
    steps = steps or spec["steps"]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(spec["shape"]).astype(np.float32)
    y = rng.integers(0, 10, spec["shape"][0]).astype(np.int64)

    jtorch.manual_seed(0)
    j_model = _jtorch_models()[name]().train()
    state = {k: np.array(v) for k, v in j_model.state_dict().items()}
    opt_name, opt_kwargs = spec["optimizer"]
    j_opt = getattr(optim, opt_name)(j_model.parameters(), **opt_kwargs)
    step = stateful_train_step(nn.CrossEntropyLoss(), donate=donate)
    jx, jy = jax.numpy.asarray(x), jax.numpy.asarray(y.astype(np.int32))

    def run_jtorch():
        out = None
        for _ in range(steps):
            out = step(j_model, j_opt, (jx, jy))
        jax.block_until_ready(out)

    conn, child_conn = mp.Pipe()
    worker = mp.get_context("spawn").Process(
        target=_torch_worker, args=(child_conn, name, state, x, y, threads), daemon=True
    )
    worker.start()
    try:
        t0 = time.perf_counter()
        jax.block_until_ready(step(j_model, j_opt, (jx, jy)))
        compile_s = time.perf_counter() - t0
        conn.send(steps)  # torch warm-up round
        conn.recv()
        best_j = best_t = float("inf")
        faults = float("inf")
        for _ in range(rounds):
            faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            run_jtorch()
            best_j = min(best_j, (time.perf_counter() - t0) / steps)
            faults1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            faults = min(faults, (faults1 - faults0) / steps)
            conn.send(steps)
            best_t = min(best_t, conn.recv())
    finally:
        conn.send(None)
        worker.join()
    return {
        "jtorch_ms": best_j * 1e3,
        "torch_ms": best_t * 1e3,
        "compile_s": compile_s,
        "faults": faults,
    }


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="mlp,lenet,resnet18")
    parser.add_argument("--steps", type=int, default=None, help="steps per round")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument(
        "--no-donate", action="store_true", help="jtorch step without buffer donation"
    )
    args = parser.parse_args(argv)

    results = {}
    print(
        f"{'case':<10}{'jtorch ms':>12}{'torch ms':>12}{'torch/jtorch':>14}{'compile s':>11}"
        f"{'faults/step':>13}"
    )
    for name in args.cases.split(","):
        r = bench_case(name, args.steps, args.rounds, args.threads, not args.no_donate)
        results[name] = r
        ratio = r["torch_ms"] / r["jtorch_ms"]
        print(
            f"{name:<10}{r['jtorch_ms']:>12.2f}{r['torch_ms']:>12.2f}{ratio:>14.2f}"
            f"{r['compile_s']:>11.2f}{r['faults']:>13.0f}"
        )
    return results


if __name__ == "__main__":
    main()
