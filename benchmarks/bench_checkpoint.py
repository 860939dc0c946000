"""Checkpoint speed: jtorch.save/jtorch.load (Orbax directory) vs torch.save/torch.load of the same
100M-parameter float32 state_dict (25 arrays of 4M), and the step-time overhead of async saving.

Prints ratios (torch time / jtorch time: >= 1.0 means jtorch is as fast or faster) and
(step time with async saves every step) / (step time without). Run:
    JAX_PLATFORMS=cpu python benchmarks/bench_checkpoint.py [--arrays 25] [--size 4000000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_save_load(root: Path, n_arrays: int, size: int, repeat: int) -> None:
    import torch

    import jtorch

    rng = np.random.default_rng(0)
    host = {
        f"layer{i}.weight": rng.standard_normal(size, dtype=np.float32) for i in range(n_arrays)
    }
    state = {k: jnp.asarray(v) for k, v in host.items()}
    tstate = {k: torch.from_numpy(v) for k, v in host.items()}
    jax.block_until_ready(state)
    params = n_arrays * size

    j_save = _best(lambda: jtorch.save(state, root / "jtorch_ckpt"), repeat)
    t_save = _best(lambda: torch.save(tstate, root / "torch.pth"), repeat)
    j_load = _best(lambda: jax.block_until_ready(jtorch.load(root / "jtorch_ckpt")), repeat)
    t_load = _best(lambda: torch.load(root / "torch.pth", weights_only=True), repeat)
    jp_save = _best(lambda: jtorch.save(state, root / "jtorch.pth"), repeat)
    jp_load = _best(lambda: jax.block_until_ready(jtorch.load(root / "jtorch.pth")), repeat)

    print(f"state_dict: {params / 1e6:.0f}M float32 parameters in {n_arrays} arrays")
    rows = [
        ("save", "orbax", j_save, "torch.save", t_save),
        ("load", "orbax", j_load, "torch.load", t_load),
        ("save", ".pth ", jp_save, "torch.save", t_save),
        ("load", ".pth ", jp_load, "torch.load", t_load),
    ]
    for what, fmt, mine, ref_name, ref in rows:
        print(
            f"  {what}  jtorch {fmt} {mine:7.3f}s  {ref_name} {ref:7.3f}s  ratio {ref / mine:5.2f}"
        )


def bench_async(root: Path, steps: int) -> None:
    import jtorch
    from jtorch import nn, optim
    from jtorch.checkpoint import CheckpointManager

    jtorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 512))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    @jtorch.jit
    def step(model, optimizer, x, y):
        loss, grads = jtorch.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        optimizer.step(grads)
        return loss

    x = jnp.ones((256, 512))
    y = jnp.zeros((256, 512))
    step(model, opt, x, y).block_until_ready()

    def run(manager: CheckpointManager | None, every: int) -> float:
        start = time.perf_counter()
        for i in range(steps):
            loss = step(model, opt, x, y)
            if manager is not None and i % every == 0:
                manager.save(i, model=model, optimizer=opt)
        loss.block_until_ready()
        elapsed = time.perf_counter() - start
        if manager is not None:
            manager.wait_until_finished()
        return elapsed / steps

    base = min(run(None, 1) for _ in range(2))
    every = 10
    manager = CheckpointManager(root / "async_run", max_to_keep=2, async_save=True)
    with_async = run(manager, every)
    manager.close()
    print(f"async saving every {every} steps ({steps} steps, MLP 1.05M params + momentum):")
    print(
        f"  step time {base * 1e3:.2f} ms without, {with_async * 1e3:.2f} ms with saving: "
        f"overhead {with_async / base:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrays", type=int, default=25)
    parser.add_argument("--size", type=int, default=4_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_ckpt_"))
    try:
        bench_save_load(root, args.arrays, args.size, args.repeat)
        bench_async(root, args.steps)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
