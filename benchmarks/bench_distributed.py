"""Data-parallel step time and per-device memory: DDP and FSDP against one device, on 1/2/4
simulated CPU devices (or the GPUs of the machine).

An MLP (`--layers` Linear layers of `--width`, ReLU) trained with Adam on batches of `--batch`,
the step a `jtorch.jit` function. For each device count a fresh process (the count is fixed when
JAX starts) times one device, `DistributedDataParallel` and `fully_shard` in alternating rounds,
and reads the bytes of parameters + optimizer state stored on device 0 (addressable shards).
On a CPU the devices are simulated and share the same cores: the time ratio is the overhead of
the partitioned program, not a speed-up. Memory per device is the figure that carries over: DDP
keeps a full copy, FSDP about 1/N.

Run: python benchmarks/bench_distributed.py [--devices 1 2 4] [--width 1024] [--layers 4]
     [--batch 256] [--steps 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def _worker(args: argparse.Namespace) -> dict:
    import jax

    jax.config.update("jax_num_cpu_devices", args.worker)  # only the CPU platform reads it
    import numpy as np
    from _timing import best_of

    import jtorch
    import jtorch.distributed as dist
    from jtorch import nn, optim

    devices = jax.devices()[: args.worker]
    if len(devices) < args.worker:
        raise SystemExit(f"bench_distributed: {args.worker} devices asked, {len(devices)} present")
    mesh = dist.data_mesh(devices)

    def mlp():
        jtorch.manual_seed(0)
        layers = []
        for _ in range(args.layers - 1):
            layers += [nn.Linear(args.width, args.width), nn.ReLU()]
        return nn.Sequential(*layers, nn.Linear(args.width, 10))

    criterion = nn.CrossEntropyLoss()

    @jtorch.jit
    def train_step(model, optimizer, x, y):
        loss, grads = jtorch.value_and_grad(lambda m: criterion(m(x), y))(model)
        optimizer.step(grads)
        return loss

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, args.width), dtype=np.float32)
    y = rng.integers(0, 10, args.batch).astype(np.int32)
    dev0 = devices[0]

    def device0_bytes(model, optimizer):
        leaves = [p.value for p in model.parameters()]
        leaves += jax.tree.leaves(optimizer.state_dict()["state"])
        return sum(s.data.nbytes for a in leaves for s in a.addressable_shards if s.device == dev0)

    setups = {
        "one device": (lambda: mlp().to(dev0), (jax.device_put(x, dev0), jax.device_put(y, dev0))),
        "DDP": (
            lambda: dist.DistributedDataParallel(mlp(), mesh=mesh),
            dist.shard_batch((x, y), mesh),
        ),
        "FSDP": (lambda: dist.fully_shard(mlp(), mesh=mesh), dist.shard_batch((x, y), mesh)),
    }
    steps, memory = {}, {}
    for name, (build, (xs, ys)) in setups.items():
        model = build()
        optimizer = optim.Adam(model.parameters(), lr=1e-4)
        steps[name] = lambda m=model, o=optimizer, xs=xs, ys=ys: train_step(m, o, xs, ys)
        jax.block_until_ready(steps[name]())
        memory[name] = device0_bytes(model, optimizer)
    times = best_of(steps, rounds=args.rounds, calls=args.steps)
    return {"devices": args.worker, "platform": dev0.platform, "time": times, "memory": memory}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args)))
        return []
    rows = []
    own = list(argv if argv is not None else sys.argv[1:])
    for n in args.devices:
        done = subprocess.run(
            [sys.executable, __file__, *own, "--worker", str(n)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise SystemExit(
                f"bench_distributed: the {n}-device run failed:\n{done.stderr[-2000:]}"
            )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(
        f"MLP {args.layers}x{args.width}, Adam, batch {args.batch} "
        f"({rows[0]['platform']}; simulated CPU devices share the cores: time = overhead)"
    )
    header = ("devices", "setup", "step ms", "vs one", "MiB/device", "vs one")
    print("{:>7}  {:<10} {:>9} {:>7} {:>11} {:>7}".format(*header))
    for row in rows:
        base_t, base_m = row["time"]["one device"], row["memory"]["one device"]
        for name in ("one device", "DDP", "FSDP"):
            t, m = row["time"][name], row["memory"][name]
            print(
                f"{row['devices']:>7}  {name:<10} {t * 1e3:>9.2f} {t / base_t:>7.2f} "
                f"{m / 2**20:>11.2f} {m / base_m:>7.2f}"
            )
    return rows


if __name__ == "__main__":
    main()
