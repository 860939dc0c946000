"""`jtorch train`: the main job. With no arguments it trains LeNet on the bundled Digits set
(AdamW 3e-3 with cosine decay, batch 32, 30 epochs, random shifts of up to 2 pixels).

It shows progress, keeps the best model (by validation accuracy) as a full-model checkpoint under
`runs/<name>/best`, writes the loss/accuracy curves and the history, and prints the test accuracy
with a classification report. `jtorch ckpt restore runs/<name>/best --eval digits` reloads it.

`--nproc-per-node N` starts N ranks (`jtorch.distributed.run`) that train one DDP model, each
loading its share of every batch; they save the best state with `jtorch.distributed.checkpoint`
under `runs/<name>/.ranks`, and this process then writes the full-model checkpoint from it and
evaluates it, as a one-process run does.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

MODELS = ("mlp", "lenet", "alexnet-small")
_RANKS_DIR = ".ranks"  # under the run directory: the ranks' hand-over to the launching process
DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10", "imagefolder")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=MODELS, default="lenet")
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument("--root", default="data", help="dataset folder (mnist, cifar10, ...)")
    parser.add_argument("--optimizer", default="AdamW", help="any torch.optim name, e.g. SGD")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--momentum", type=float, default=None, help="for SGD/RMSprop")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument(
        "--augment",
        type=int,
        default=2,
        metavar="PIXELS",
        help="random shifts of up to this many pixels while training (0: off)",
    )
    parser.add_argument(
        "--scheduler", choices=("cosine", "none"), default="cosine", help="lr schedule per epoch"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="runs")
    parser.add_argument("--name", default=None, help="run name (default: <model>-<dataset>)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--limit", type=int, default=None, help="use only this many samples")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument(
        "--devices",
        type=int,
        default=1,
        help="train data-parallel (DistributedDataParallel) over this many devices; on the CPU "
        "they are simulated",
    )
    parser.add_argument(
        "--nproc-per-node",
        type=int,
        default=1,
        help="train data-parallel over this many local processes (torchrun's option; each "
        "process loads its share of every batch)",
    )


def _upsample(images: np.ndarray, size: int) -> np.ndarray:
    """(N, C, h, w) → (N, C, size, size), bilinear, done once for the whole set."""
    n, c = images.shape[:2]
    out = jax.image.resize(jnp.asarray(images), (n, c, size, size), "bilinear")
    return np.asarray(out, np.float32)


def _raw_images(name: str, root: str, train: bool, image_size: int):
    """(N, C, image_size, image_size) float images in [0, 1], int labels and class names."""
    from jtorch.vision import datasets

    if name == "digits":
        ds = datasets.Digits(train=train)
        images, labels = ds.data[:, None] if ds.data.ndim == 3 else ds.data, ds.targets
    elif name in ("mnist", "fashion-mnist"):
        cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
        ds = cls(root, train=train)
        images, labels = np.asarray(ds.data, np.float32)[:, None] / 255.0, ds.targets
    elif name == "cifar10":
        ds = datasets.CIFAR10(root, train=train)
        images = np.asarray(ds.data, np.float32).transpose(0, 3, 1, 2) / 255.0
        labels = ds.targets
    else:
        ds = datasets.ImageFolder(root)
        pixels = [
            np.asarray(ds.loader(path).convert("RGB").resize((image_size, image_size)))
            for path, _ in ds.samples
        ]
        images = np.stack(pixels).astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        labels = [target for _, target in ds.samples]
    images = np.asarray(images, np.float32)
    if images.shape[-1] != image_size:
        images = _upsample(images, image_size)
    return images, np.asarray(labels, np.int32), list(ds.classes)


def load_dataset(name: str, root: str, train: bool, image_size: int = 32):
    """A TensorDataset of images normalised with the training split's mean and std, and the
    class names: the same preprocessing for training, testing and `jtorch ckpt restore --eval`."""
    from jtorch.utils.data import TensorDataset

    train_images, train_labels, classes = _raw_images(name, root, True, image_size)
    mean, std = float(train_images.mean()), float(train_images.std())
    if train:
        images, labels = train_images, train_labels
    else:
        images, labels, _ = _raw_images(name, root, False, image_size)
    return TensorDataset((images - mean) / std, labels), classes


def evaluate_model(
    model: Any, dataset: str, root: str = "data", batch_size: int = 256, limit: int | None = None
) -> dict[str, Any]:
    """Test-split loss, accuracy and classification report of `model` on `dataset`."""
    from jtorch import nn
    from jtorch.train import evaluate
    from jtorch.utils.data import DataLoader, Subset

    test_set, classes = load_dataset(dataset, root, False)
    if limit is not None:
        test_set = Subset(test_set, list(range(min(limit, len(test_set)))))
    loader = DataLoader(test_set, batch_size=batch_size)
    return evaluate(
        model, loader, nn.CrossEntropyLoss(), num_classes=len(classes), target_names=classes
    )


def print_result(result: dict[str, Any]) -> None:
    print(f"test accuracy: {result['accuracy']:.4f}")
    print(result["report"])


class _Augmented:
    """Training items passed through a random transform (the held-out splits are not)."""

    def __init__(self, dataset: Any, transform: Any):
        self.dataset, self.transform = dataset, transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, label = self.dataset[index]
        return self.transform(np.asarray(image)), label


def register(groups: Any) -> None:
    """Add `jtorch train` to the `jtorch` parser."""
    parser = groups.add_parser("train", help="train a model (default: LeNet on Digits)")
    add_arguments(parser)
    parser.set_defaults(handler=run)


def build_model(name: str, num_classes: int, in_channels: int, image_size: int):
    from jtorch import nn
    from jtorch.vision import models

    if name == "lenet":
        return models.lenet(num_classes, in_channels)
    if name == "alexnet-small":
        return models.alexnet_small(num_classes, in_channels)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_channels * image_size * image_size, 256),
        nn.ReLU(),
        nn.Linear(256, num_classes),
    )


def optimizer_class(name: str) -> type:
    """The jtorch.optim class called `name` (case-insensitive), e.g. 'sgd' → optim.SGD."""
    from jtorch import optim

    classes = {
        n.lower(): getattr(optim, n)
        for n in optim.__all__
        if isinstance(getattr(optim, n), type) and n not in ("Optimizer", "LBFGS")
    }
    if name.lower() not in classes:
        choices = ", ".join(sorted(c.__name__ for c in classes.values()))
        raise ValueError(f"unknown optimizer {name!r} (choose from {choices})")
    return classes[name.lower()]


def build_optimizer(name: str, params: Any, lr: float, momentum: float | None):
    kwargs: dict[str, Any] = {"lr": lr}
    if momentum is not None:
        kwargs["momentum"] = momentum
    return optimizer_class(name)(params, **kwargs)


def _data_parallel_mesh(devices: int, batch_size: int) -> Any:
    """The `data` mesh for `--devices N` (None for one device); N CPU devices are simulated, so
    this runs before JAX starts its backend."""
    if devices < 1:
        raise ValueError(f"--devices must be >= 1, got {devices}")
    if devices == 1:
        return None
    if batch_size % devices:
        raise ValueError(
            f"--batch-size {batch_size} does not split over --devices {devices} "
            "(expected a multiple)"
        )
    try:
        jax.config.update("jax_num_cpu_devices", devices)
    except RuntimeError:  # JAX has started already (main() called in-process): use its devices
        pass
    if jax.device_count() < devices:
        raise ValueError(f"--devices {devices}: only {jax.device_count()} devices available")
    from jtorch.distributed import data_mesh

    return data_mesh(jax.devices()[:devices])


def _run_dir(args: argparse.Namespace) -> Path:
    return Path(args.output_dir) / (args.name or f"{args.model}-{args.dataset}")


def _job(args: argparse.Namespace) -> tuple[int, int] | None:
    """(rank, world size) when this process is a rank started for `--nproc-per-node`."""
    if args.nproc_per_node == 1 or "RANK" not in os.environ:
        return None
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world != args.nproc_per_node:
        raise ValueError(
            f"--nproc-per-node {args.nproc_per_node}, but this job has WORLD_SIZE {world}"
        )
    return int(os.environ["RANK"]), world


def run(args: argparse.Namespace) -> int:
    optimizer_class(args.optimizer)  # fail before loading any data
    if args.nproc_per_node < 1:
        raise ValueError(f"--nproc-per-node must be >= 1, got {args.nproc_per_node}")
    if args.nproc_per_node > 1:
        if args.devices != 1:
            raise ValueError(
                "--devices and --nproc-per-node exclude each other: with --nproc-per-node each "
                "process trains on its own device"
            )
        if args.batch_size % args.nproc_per_node:
            raise ValueError(
                f"--batch-size {args.batch_size} does not split over --nproc-per-node "
                f"{args.nproc_per_node} (expected a multiple)"
            )
        if _job(args) is None:
            return _launch_ranks(args)
    return _train(args, _job(args))


def _launch_ranks(args: argparse.Namespace) -> int:
    """Start the ranks, then build the full-model checkpoint from their best state and evaluate
    it here (one process: nothing to coordinate)."""
    import jtorch
    from jtorch.distributed import checkpoint as dcp
    from jtorch.distributed.run import launch

    run_dir = _run_dir(args)
    shared = run_dir / _RANKS_DIR
    shutil.rmtree(shared, ignore_errors=True)
    status = launch("jtorch.cli", args.argv, nproc_per_node=args.nproc_per_node, module=True)
    if status != 0:
        return status
    summary = json.loads((shared / "summary.json").read_text())
    model = build_model(args.model, *summary.pop("model_shape"))  # weights: the ranks' best
    model.load_state_dict(dcp.load(model.state_dict(), shared / summary.pop("best_state")))
    jtorch.save(model, str(run_dir / "best"))
    shutil.rmtree(shared)
    return _report(args, model, run_dir, summary)


def _train(args: argparse.Namespace, job: tuple[int, int] | None) -> int:
    """Train in this process: alone, over `--devices`, or as one rank of `--nproc-per-node`."""
    import jtorch
    from jtorch import nn, optim
    from jtorch.train import fit
    from jtorch.utils.data import DataLoader, DistributedSampler, Subset, random_split

    if job is not None:
        from jtorch import distributed

        distributed.init_process_group()  # before JAX starts: it joins the ranks' runtime
    rank = 0 if job is None else job[0]
    jtorch.enable_compilation_cache()  # a second run skips the compiles (JTORCH_COMPILATION_CACHE)
    mesh = _data_parallel_mesh(args.devices, args.batch_size)
    if job is not None:
        mesh = distributed.data_mesh(jax.devices())
    jtorch.manual_seed(args.seed)
    image_size = 32
    train_set, classes = load_dataset(args.dataset, args.root, True, image_size)
    if args.limit is not None:
        train_set = Subset(train_set, list(range(min(args.limit, len(train_set)))))
    n_val = max(len(train_set) // 10, 1)
    train_part, val_part = random_split(train_set, [len(train_set) - n_val, n_val])
    in_channels = int(np.asarray(train_set[0][0]).shape[0])

    if args.augment > 0:
        from jtorch.vision import transforms

        shift = transforms.RandomCrop(
            image_size,
            padding=args.augment,
            padding_mode="edge",
            generator=random.Random(args.seed + rank),
        )
        train_part = _Augmented(train_part, shift)
    loader_kw: dict[str, Any] = dict(batch_size=args.batch_size, num_workers=args.workers)
    placement = {}
    if mesh is not None:
        from jtorch import distributed

        placement = {"sharding": distributed.batch_sharding(mesh)}
    order: dict[str, Any] = {"shuffle": True}
    val_kw: dict[str, Any] = {}
    if job is not None:  # each rank loads its share of every batch (fit sets the epoch)
        loader_kw["batch_size"] = args.batch_size // job[1]
        order = {"sampler": DistributedSampler(train_part, shuffle=True, seed=args.seed)}
        val_kw = {"sampler": DistributedSampler(val_part, shuffle=False), **placement}
    train_loader = DataLoader(train_part, drop_last=True, **order, **loader_kw, **placement)
    val_loader = DataLoader(val_part, **loader_kw, **val_kw)

    bare = build_model(args.model, len(classes), in_channels, image_size)
    model = bare
    if mesh is not None:
        model = distributed.DistributedDataParallel(bare, mesh=mesh)
    optimizer = build_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum)
    scheduler = None
    if args.scheduler == "cosine":
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    criterion = nn.CrossEntropyLoss()
    run_dir = _run_dir(args)
    run_dir.mkdir(parents=True, exist_ok=True)
    best: dict[str, Any] = {"accuracy": -1.0, "epoch": None, "state": None}

    def keep_best(epoch: int, logs: dict[str, float]) -> None:
        if logs["val_accuracy"] < best["accuracy"]:  # ties: the later, lower-lr epoch
            return
        best.update(accuracy=logs["val_accuracy"], epoch=epoch + 1)
        if job is None:
            jtorch.save(bare, str(run_dir / "best"))
            return
        # every rank writes its part; the launching process builds the full model from it
        previous, best["state"] = best["state"], f"best-{epoch + 1}"
        distributed.checkpoint.save(bare.state_dict(), run_dir / _RANKS_DIR / best["state"])
        if previous is not None and rank == 0:
            shutil.rmtree(run_dir / _RANKS_DIR / previous)

    if not args.quiet and rank == 0:
        print(model)
        print(
            f"{args.dataset}: {len(train_part)} train, {len(val_part)} val; "
            f"device {jax.devices()[0].platform}"
            + (f" x {args.devices} (data-parallel)" if args.devices > 1 else "")
            + (f", {job[1]} processes (data-parallel)" if job is not None else "")
        )
    started = time.perf_counter()
    history = fit(
        model,
        optimizer,
        criterion,
        train_loader,
        val_loader,
        epochs=args.epochs,
        scheduler=scheduler,
        callbacks=[keep_best],
        progress=not args.quiet and rank == 0,
        plot=str(run_dir / "curves.png") if rank == 0 else None,
    )
    summary = {
        "best_epoch": best["epoch"],
        "val_accuracy": best["accuracy"],
        "train_seconds": time.perf_counter() - started,
        "history": history,
    }
    if job is not None:
        if rank == 0:
            summary["best_state"] = best["state"]
            summary["model_shape"] = [len(classes), in_channels, image_size]
            (run_dir / _RANKS_DIR / "summary.json").write_text(json.dumps(summary))
        distributed.barrier()
        distributed.destroy_process_group()
        return 0
    return _report(args, jtorch.load(str(run_dir / "best")), run_dir, summary)


def _report(args: argparse.Namespace, model: Any, run_dir: Path, summary: dict[str, Any]) -> int:
    """Evaluate the best model on the test split, write history.json and print the result."""
    result = evaluate_model(model, args.dataset, args.root, limit=args.limit)
    summary = {
        "model": args.model,
        "dataset": args.dataset,
        "best_epoch": summary["best_epoch"],
        "val_accuracy": summary["val_accuracy"],
        "test_accuracy": result["accuracy"],
        "test_loss": result["loss"],
        "train_seconds": summary["train_seconds"],
        "history": summary["history"],
    }
    (run_dir / "history.json").write_text(json.dumps(summary, indent=2))
    print(
        f"best epoch {summary['best_epoch']} (val accuracy {summary['val_accuracy']:.4f}); "
        f"trained in {summary['train_seconds']:.1f} s; checkpoint {run_dir / 'best'}"
    )
    print_result(result)
    return 0
