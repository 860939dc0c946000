"""Checkpoint speed: jtorch.save/jtorch.load (Orbax directory and .pth) vs torch.save/torch.load of
the same 100M-parameter float32 state_dict (25 arrays of 4M), and the step-time overhead of async
saving.

Prints ratios (torch time / jtorch time: >= 1.0 means jtorch is as fast or faster) and
(step time with async saves) / (step time without). torch runs in its own process with default
settings, as a PyTorch user's program would. Each timed call starts after `os.sync()` (not
timed), so neither side pays for the other's dirty pages; rounds alternate jtorch and torch and the
best of `--repeat` rounds is reported. Every timed save overwrites the file or directory it wrote
before (an untimed first save of each). jtorch's .pth save returns before the replaced file's
blocks are freed (a background thread unlinks it; torch.save frees them inline when it truncates):
that unlink is waited for after the timed call, so it never overlaps the next measurement. Run:
    JAX_PLATFORMS=cpu python benchmarks/bench_checkpoint.py [--arrays 25] [--size 4000000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np


def _timed(fn) -> float:
    from jtorch.checkpoint.torch_pth import wait_for_background_unlinks

    os.sync()
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    wait_for_background_unlinks()
    return elapsed


def _host_state(n_arrays: int, size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        f"layer{i}.weight": rng.standard_normal(size, dtype=np.float32) for i in range(n_arrays)
    }


def _torch_worker(conn, path: str, n_arrays: int, size: int) -> None:
    """torch.save/torch.load in their own process, as a PyTorch user runs them (glibc's default
    malloc, not the tuning `import jtorch` applies); answers each request with its seconds."""
    import torch

    tstate = {k: torch.from_numpy(v) for k, v in _host_state(n_arrays, size).items()}
    ops = {
        "save": lambda: torch.save(tstate, path),
        "load": lambda: torch.load(path, weights_only=True),
    }
    ops["save"]()  # untimed, so that every timed save overwrites the file
    while (what := conn.recv()) is not None:
        os.sync()
        start = time.perf_counter()
        ops[what]()
        conn.send(time.perf_counter() - start)


def bench_save_load(root: Path, n_arrays: int, size: int, repeat: int) -> None:
    import jtorch

    state = {k: jnp.asarray(v) for k, v in _host_state(n_arrays, size).items()}
    jax.block_until_ready(state)
    params = n_arrays * size

    conn, child_conn = mp.Pipe()
    worker = mp.get_context("spawn").Process(
        target=_torch_worker, args=(child_conn, str(root / "torch.pth"), n_arrays, size)
    )
    worker.start()

    def torch_op(what: str):
        def run() -> float:
            conn.send(what)
            return conn.recv()

        return run

    ops = {
        "orbax save": lambda: jtorch.save(state, root / "jtorch_ckpt"),
        "torch save": torch_op("save"),
        "orbax load": lambda: jax.block_until_ready(jtorch.load(root / "jtorch_ckpt")),
        "torch load": torch_op("load"),
        ".pth save": lambda: jtorch.save(state, root / "jtorch.pth"),
        ".pth load": lambda: jax.block_until_ready(jtorch.load(root / "jtorch.pth")),
    }
    for name, fn in ops.items():  # untimed, so that every timed save overwrites a file
        if "save" in name and "torch" not in name:
            fn()
    times: dict[str, list[float]] = {name: [] for name in ops}
    try:
        for _ in range(repeat):  # alternate, so slow phases of a shared machine hit both sides
            for name, fn in ops.items():
                times[name].append(fn() if "torch" in name else _timed(fn))
    finally:
        conn.send(None)
        worker.join()
    best = {name: min(values) for name, values in times.items()}

    print(f"state_dict: {params / 1e6:.0f}M float32 parameters in {n_arrays} arrays")
    print(f"  (best of {repeat} alternating rounds, os.sync() before each call)")
    for what in ("save", "load"):
        ref = best[f"torch {what}"]
        for fmt in ("orbax", ".pth"):
            mine = best[f"{fmt} {what}"]
            print(
                f"  {what}  jtorch {fmt:5} {mine:7.3f}s  torch.{what} {ref:7.3f}s  "
                f"ratio {ref / mine:5.2f}"
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
        if manager is not None:
            manager.wait_until_finished()  # the last save's writing counts too
        return (time.perf_counter() - start) / steps

    # every 100 steps (about a second here) is already far more often than real runs save;
    # every 10 steps is a stress test where the writer thread is rarely idle
    intervals = (100, 10)
    best = {every: float("inf") for every in (None, *intervals)}
    for round_ in range(2):  # alternate plain and saving runs; best of each
        best[None] = min(best[None], run(None, 1))
        for every in intervals:
            directory = root / f"async_{every}_{round_}"
            manager = CheckpointManager(directory, max_to_keep=2, async_save=True)
            best[every] = min(best[every], run(manager, every))
            manager.close()
    base = best[None]
    print(f"async saving ({steps} steps, MLP 1.05M params + momentum, {base * 1e3:.2f} ms/step):")
    for every in intervals:
        print(
            f"  every {every:3d} steps: {best[every] * 1e3:.2f} ms/step with saving, "
            f"overhead {best[every] / base:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrays", type=int, default=25)
    parser.add_argument("--size", type=int, default=4_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_ckpt_"))
    try:
        bench_save_load(root, args.arrays, args.size, args.repeat)
        bench_async(root, args.steps)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
