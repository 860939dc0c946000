"""oneDNN convolutions (jtorch._backend) against XLA's convolution and torch eager, on the CPU.

1. Single convolutions, forward + backward (grads of input, weight, bias) over the seed models'
   conv shapes: LeNet (B=128), AlexNet (224×224, B=16) and ResNet-18 CIFAR-stem 3×3 convs
   (B=64). Columns: oneDNN path (one jitted value_and_grad), XLA path (same function on
   lax.conv_general_dilated), torch eager (2 threads); ratios > 1 mean jtorch's oneDNN path is
   faster.
2. Train steps (SGD momentum, cross-entropy): LeNet B=128 and ResNet-18 CIFAR stem B=64,
   jtorch with its convolutions on oneDNN (the default) and on XLA (JTORCH_CPU_CONV=xla while
   the step is traced), against torch eager in this process (benchmarks/bench_train.py runs torch
   in a process of its own for the headline ratios).

The machine is shared, so rounds alternate between the contenders and the best round of each is
kept. Run: JAX_PLATFORMS=cpu python benchmarks/bench_onednn_conv.py [--part convs,steps]
[--rounds 5] [--models lenet,resnet18]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _timing import best_of  # noqa: E402

from jtorch import _backend  # noqa: E402
from jtorch._backend import onednn_conv  # noqa: E402
from jtorch.nn.functional.conv import _xla_conv  # noqa: E402

# (label, batch, C_in, H, C_out, kernel, stride, padding)
SHAPES = [
    ("lenet conv1", 128, 1, 32, 6, 5, 1, 0),
    ("lenet conv2", 128, 6, 14, 16, 5, 1, 0),
    ("alexnet conv1", 16, 1, 224, 96, 11, 4, 0),
    ("alexnet conv2", 16, 96, 26, 256, 5, 1, 2),
    ("alexnet conv3", 16, 256, 12, 384, 3, 1, 1),
    ("alexnet conv4", 16, 384, 12, 384, 3, 1, 1),
    ("alexnet conv5", 16, 384, 12, 256, 3, 1, 1),
    ("resnet18 stem", 64, 3, 32, 64, 3, 1, 1),
    ("resnet18 l1 3x3", 64, 64, 32, 64, 3, 1, 1),
    ("resnet18 l2 3x3/2", 64, 64, 32, 128, 3, 2, 1),
    ("resnet18 l2 3x3", 64, 128, 16, 128, 3, 1, 1),
    ("resnet18 l3 3x3/2", 64, 128, 16, 256, 3, 2, 1),
    ("resnet18 l3 3x3", 64, 256, 8, 256, 3, 1, 1),
    ("resnet18 l4 3x3/2", 64, 256, 8, 512, 3, 2, 1),
    ("resnet18 l4 3x3", 64, 512, 4, 512, 3, 1, 1),
]


def _conv_contenders(rng, torch, n, c, h, o, k, s, p) -> dict:
    """Forward+backward of one conv2d shape on the oneDNN path, the XLA path and torch."""
    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    w = (rng.standard_normal((o, c, k, k)) * 0.1).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    args = ((s, s), ((p, p), (p, p)), (1, 1), 1)
    ho = (h + 2 * p - k) // s + 1
    g = rng.standard_normal((n, o, ho, ho)).astype(np.float32)
    jx, jw, jb, jg = map(jnp.asarray, (x, w, b, g))

    def step(conv):
        # value_and_grad, not grad: the gradients of sum(conv(x)·g) do not need the output, so
        # XLA would drop the forward convolution and time only the backward passes.
        loss = lambda x, w, b: (conv(x, w, b, *args) * jg).sum()  # noqa: E731
        f = jax.jit(jax.value_and_grad(loss, (0, 1, 2)))
        return lambda: jax.block_until_ready(f(jx, jw, jb))

    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tg = torch.tensor(g)

    def torch_step():
        for t in (tx, tw, tb):
            t.grad = None
        torch.nn.functional.conv2d(tx, tw, tb, s, p).backward(tg)

    return {"onednn": step(onednn_conv.conv_nd), "xla": step(_xla_conv), "torch": torch_step}


def bench_convs(rounds: int, torch) -> None:
    print(f"\nSingle conv forward+backward, ms (best of {rounds} alternating rounds)")
    head = f"{'conv':<20}{'shape (N,C,H)->O,k,s,p':<26}{'oneDNN':>9}{'XLA':>9}{'torch':>9}"
    print(head + f"{'XLA/oneDNN':>12}{'torch/oneDNN':>14}")
    rng = np.random.default_rng(0)
    for label, n, c, h, o, k, s, p in SHAPES:
        reps = 3 if n * c * h * h * o * k * k > 1e9 else 10
        r = best_of(_conv_contenders(rng, torch, n, c, h, o, k, s, p), rounds, reps)
        ms = {key: v * 1e3 for key, v in r.items()}
        shape = f"({n},{c},{h})->{o},{k},{s},{p}"
        print(
            f"{label:<20}{shape:<26}{ms['onednn']:>9.2f}{ms['xla']:>9.2f}{ms['torch']:>9.2f}"
            f"{ms['xla'] / ms['onednn']:>12.2f}{ms['torch'] / ms['onednn']:>14.2f}",
            flush=True,
        )


@contextlib.contextmanager
def _convs_on(path: str):
    """Trace with jtorch's F.conv* on oneDNN ("onednn") or on XLA ("xla"): the dispatch reads
    JTORCH_CPU_CONV while a step is traced, i.e. on its first call."""
    before = os.environ.get("JTORCH_CPU_CONV")
    os.environ["JTORCH_CPU_CONV"] = path
    try:
        yield
    finally:
        if before is None:
            del os.environ["JTORCH_CPU_CONV"]
        else:
            os.environ["JTORCH_CPU_CONV"] = before


def _step_contenders(bt, name: str, steps: int, torch) -> dict:
    """`steps` SGD train steps of model `name`: jtorch (convs on oneDNN / on XLA) and torch."""
    import jtorch
    from jtorch import nn, optim
    from jtorch.train import stateful_train_step

    spec = bt.CASES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(spec["shape"]).astype(np.float32)
    y = rng.integers(0, 10, spec["shape"][0]).astype(np.int64)
    t_model = bt._torch_models(torch)[name]().train()
    opt_name, opt_kwargs = spec["optimizer"]
    t_opt = getattr(torch.optim, opt_name)(t_model.parameters(), **opt_kwargs)
    t_loss = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    batch = (jnp.asarray(x), jnp.asarray(y.astype(np.int32)))

    def jtorch_run(path):
        jtorch.manual_seed(0)
        model = bt._jtorch_models()[name]().train()
        model.load_state_dict(t_model.state_dict())
        opt = getattr(optim, opt_name)(model.parameters(), **opt_kwargs)
        step = stateful_train_step(nn.CrossEntropyLoss())
        with _convs_on(path):
            jax.block_until_ready(step(model, opt, batch))

        def run():
            out = None
            for _ in range(steps):
                out = step(model, opt, batch)
            jax.block_until_ready(out)

        return run

    def torch_run():
        for _ in range(steps):
            t_opt.zero_grad()
            t_loss(t_model(tx), ty).backward()
            t_opt.step()

    return {"onednn": jtorch_run("onednn"), "xla": jtorch_run("xla"), "torch": torch_run}


def bench_steps(models: list[str], rounds: int, torch) -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_train as bt

    print(f"\nTrain step, ms (best of {rounds} alternating rounds)")
    print(f"{'model':<10}{'oneDNN':>10}{'XLA':>10}{'torch':>10}{'torch/oneDNN':>14}"
          f"{'torch/XLA':>11}")  # fmt: skip
    for name in models:
        steps = 10 if name == "lenet" else 2
        r = best_of(_step_contenders(bt, name, steps, torch), rounds)
        ms = {k: v * 1e3 / steps for k, v in r.items()}
        print(
            f"{name:<10}{ms['onednn']:>10.1f}{ms['xla']:>10.1f}{ms['torch']:>10.1f}"
            f"{ms['torch'] / ms['onednn']:>14.2f}{ms['torch'] / ms['xla']:>11.2f}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="convs,steps")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", default="lenet,resnet18")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if not _backend.available():
        sys.exit(f"oneDNN extension not available: {_backend.load_error()}")
    print(f"jax {jax.__version__}, torch {torch.__version__} ({args.threads} threads)")
    if "convs" in args.part:
        bench_convs(args.rounds, torch)
    if "steps" in args.part:
        bench_steps(args.models.split(","), args.rounds, torch)


if __name__ == "__main__":
    main()
