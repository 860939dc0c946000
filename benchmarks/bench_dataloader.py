"""DataLoader throughput (samples/s): jtorch vs torch, and worker scaling on an image pipeline.

(a) in-memory TensorDataset (60,000 x 784 float32 + int labels), batch 256, shuffled: jtorch's
    DataLoader (jax arrays out, transfer awaited) against torch's DataLoader; ratio jtorch/torch.
(b) ImageFolder of 1,000 generated 64x64 PNGs with RandomResizedCrop(32) + RandomHorizontalFlip +
    ToTensor, batch 32: num_workers=0 against num_workers=2 (processes; threads shown too).
(c) one process's share in a job of two (rank 0 of 2) of the data of (a), batch 128, shuffled per
    epoch, batches put on the device: jtorch's DataLoader with a DistributedSampler against Grain
    (`grain.MapDataset`: slice `[rank::world]`, shuffle, batch), the candidate engine for the
    multi-process loader; and whether each resumes mid-epoch from a saved iterator state. Skipped
    when Grain is not installed (`pip install grain`; jtorch does not depend on it).

Run: JAX_PLATFORMS=cpu python benchmarks/bench_dataloader.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import jax
import numpy as np
from PIL import Image

from jtorch.utils.data import DataLoader, DistributedSampler, TensorDataset
from jtorch.vision import datasets, transforms


def _rate(loader, epochs: int) -> float:
    best = 0.0
    for _ in range(epochs):
        n, start = 0, time.perf_counter()
        for batch in loader:
            x = batch[0]
            if isinstance(x, jax.Array):
                x.block_until_ready()
            n += x.shape[0]
        best = max(best, n / (time.perf_counter() - start))
    return best


def bench_tensor_dataset(epochs: int) -> None:
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = rng.random((60_000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 60_000)
    ours = DataLoader(TensorDataset(x, y), batch_size=256, shuffle=True)
    ref = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
        batch_size=256,
        shuffle=True,
    )
    r_ours, r_ref = _rate(ours, epochs), _rate(ref, epochs)
    print(
        f"(a) TensorDataset bs=256  jtorch {r_ours:12,.0f} samples/s   torch {r_ref:12,.0f}"
        f" samples/s   ratio {r_ours / r_ref:6.2f}x  (target >= 1.0)"
    )


def bench_image_folder(epochs: int, n_images: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        rng = np.random.default_rng(0)
        for k in range(n_images):
            d = os.path.join(root, f"class{k % 10}")
            os.makedirs(d, exist_ok=True)
            arr = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(arr).save(os.path.join(d, f"{k}.png"))
        tf = transforms.Compose(
            [
                transforms.RandomResizedCrop(32),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
            ]
        )
        ds = datasets.ImageFolder(root, transform=tf)
        rates = {}
        for name, kwargs in [
            ("workers=0", dict(num_workers=0)),
            ("workers=2 processes", dict(num_workers=2, persistent_workers=True)),
            (
                "workers=2 threads",
                dict(num_workers=2, persistent_workers=True, worker_mode="thread"),
            ),
        ]:
            loader = DataLoader(ds, batch_size=32, shuffle=True, **kwargs)
            rates[name] = _rate(loader, epochs)
        base = rates["workers=0"]
        for name, r in rates.items():
            print(
                f"(b) ImageFolder {n_images} PNGs, {name:20s} {r:10,.0f} samples/s"
                f"   {r / base:5.2f}x"
            )
        print(
            f"    speed-up workers=2 (processes) / workers=0: "
            f"{rates['workers=2 processes'] / base:.2f}x  (target >= 1.6x on 2 cores)"
        )


class _Rows:
    """Grain's random-access source protocol over in-memory arrays: (x[i], y[i])."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.x[i], self.y[i]


def _grain_epochs(grain, x, y, rank: int, world: int, epochs: int):
    """Per epoch, a fresh iterator over this rank's shuffled share, batches on the device."""
    rows = grain.MapDataset.source(_Rows(x, y))[rank::world]
    for epoch in range(epochs):
        batches = rows.shuffle(seed=epoch).batch(128).map(jax.device_put)
        yield batches.to_iter_dataset()


def bench_process_shard(epochs: int) -> None:
    try:
        import grain
    except ImportError:
        print("(c) skipped: Grain is not installed (pip install grain)")
        return
    rng = np.random.default_rng(0)
    x = rng.random((60_000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 60_000)
    dataset = TensorDataset(x, y)
    sampler = DistributedSampler(dataset, num_replicas=2, rank=0, shuffle=True)
    ours = DataLoader(dataset, batch_size=128, sampler=sampler)
    r_ours = _rate(ours, epochs)
    r_grain = max(_rate(loader, 1) for loader in _grain_epochs(grain, x, y, 0, 2, epochs))
    print(
        f"(c) rank 0 of 2, bs=128  jtorch {r_ours:12,.0f} samples/s   grain {r_grain:12,.0f}"
        f" samples/s   ratio jtorch/grain {r_ours / r_grain:6.2f}x"
    )
    # resuming mid-epoch: Grain's iterator state against jtorch's loader (none to save)
    loader = next(_grain_epochs(grain, x, y, 0, 2, 1))
    run = iter(loader)
    for _ in range(5):
        next(run)
    state = run.get_state()
    expected = np.asarray(next(run)[0])
    resumed = iter(loader)
    resumed.set_state(state)
    same = np.array_equal(np.asarray(next(resumed)[0]), expected)
    run = iter(ours)
    for _ in range(5):
        next(run)
    state = ours.state_dict()
    expected = np.asarray(next(run)[0])
    again = DataLoader(dataset, batch_size=128, sampler=DistributedSampler(dataset, 2, 0))
    again.load_state_dict(state)
    ours_same = np.array_equal(np.asarray(next(iter(again))[0]), expected)
    print(
        f"    resumes mid-epoch from a saved state: grain {'yes' if same else 'NO'}, "
        f"jtorch {'yes' if ours_same else 'NO'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer epochs, fewer images")
    args = parser.parse_args()
    epochs = 2 if args.quick else 3
    print(f"cpus: {os.cpu_count()}  jax devices: {jax.devices()}")
    bench_tensor_dataset(epochs)
    bench_image_folder(epochs, 500 if args.quick else 1000)
    bench_process_shard(epochs)


if __name__ == "__main__":
    main()
