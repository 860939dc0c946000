"""DataLoader throughput (samples/s): jtorch vs torch, and worker scaling on an image pipeline.

(a) in-memory TensorDataset (60,000 x 784 float32 + int labels), batch 256, shuffled: jtorch's
    DataLoader (jax arrays out, transfer awaited) against torch's DataLoader; ratio jtorch/torch.
(b) ImageFolder of 1,000 generated 64x64 PNGs with RandomResizedCrop(32) + RandomHorizontalFlip +
    ToTensor, batch 32: num_workers=0 against num_workers=2 (processes; threads shown too).

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

from jtorch.utils.data import DataLoader, TensorDataset
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer epochs, fewer images")
    args = parser.parse_args()
    epochs = 2 if args.quick else 3
    print(f"cpus: {os.cpu_count()}  jax devices: {jax.devices()}")
    bench_tensor_dataset(epochs)
    bench_image_folder(epochs, 500 if args.quick else 1000)


if __name__ == "__main__":
    main()
