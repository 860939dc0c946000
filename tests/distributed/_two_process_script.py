"""A tiny data-parallel training script for the launcher tests (run by test_launcher.py).

Under `jtorch run --nproc-per-node 2` each rank feeds its share of every batch; `train()`
called in one process on one device is the reference. Rank 0 prints the losses as JSON.
`--fail-rank R` makes rank R raise before importing anything.
"""

import argparse
import json
import os

import numpy as np


def train(rank: int, world: int, steps: int = 3) -> tuple[list[float], object, object, object]:
    """DDP + SyncBatchNorm + Adam on fixed batches of 8, each rank loading its share through a
    DistributedSampler. Returns the losses, the DDP model, its optimizer and the step."""
    import jtorch
    import jtorch.distributed as dist
    from jtorch import nn, optim
    from jtorch.utils.data import DataLoader, DistributedSampler, TensorDataset

    jtorch.manual_seed(0)
    # no bias before the BatchNorm: its gradient is rounding noise, which Adam would amplify
    # Dropout(0): its RNG state is replicated over the processes too
    model = nn.Sequential(
        nn.Linear(6, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.0), nn.Linear(8, 3)
    )
    model = dist.DistributedDataParallel(nn.SyncBatchNorm.convert_sync_batchnorm(model))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    criterion = nn.CrossEntropyLoss()

    @jtorch.jit
    def train_step(model, optimizer, x, y):
        loss, grads = jtorch.value_and_grad(lambda m: criterion(m(x), y))(model)
        optimizer.step(grads)
        return loss

    rng = np.random.default_rng(0)
    x = rng.standard_normal((8 * steps, 6), dtype=np.float32)
    y = rng.integers(0, 3, 8 * steps).astype(np.int32)
    dataset = TensorDataset(x, y)
    # each rank loads its rows (rank, rank + world, ...); batches of 8 in all, split over the mesh
    sampler = DistributedSampler(dataset, shuffle=False)
    assert (sampler.rank, sampler.num_replicas) == (rank, world)
    loader = DataLoader(
        dataset, batch_size=8 // world, sampler=sampler, sharding=dist.batch_sharding(model.mesh)
    )
    losses = []
    for xs, ys in loader:
        assert xs.shape == (8, 6), xs.shape  # the global batch
        losses.append(float(train_step(model, optimizer, xs, ys)))
    return losses, model, optimizer, (train_step, xs, ys)


def check_manager(directory: str, rank: int, world: int) -> dict:
    """Every rank saves the trained state with CheckpointManager (async, two kept), restores the
    latest step into a fresh model and optimizer, and takes one more step on both."""
    from jtorch.checkpoint import CheckpointManager

    _, model, optimizer, (train_step, xs, ys) = train(rank, world)
    _, fresh, fresh_optimizer, _ = train(rank, world, steps=1)
    with CheckpointManager(directory, max_to_keep=2, async_save=True) as manager:
        for step in (1, 2, 3):
            manager.save(step, model, optimizer, extra={"rank": rank})
        manager.wait_until_finished()
        restored = manager.restore("latest", fresh, fresh_optimizer)
        steps = manager.all_steps()
    spans = all(len(v.sharding.device_set) == world for v in fresh.state_dict().values()) and all(
        len(v.sharding.device_set) == world
        for entry in fresh_optimizer.state_dict()["state"].values()
        for v in entry.values()
        if v.ndim  # a step count is a plain scalar, as a fresh optimizer's is
    )
    return {
        "steps": steps,
        "extra": restored["extra"],
        "spans_processes": spans,
        "next_loss": float(train_step(model, optimizer, xs, ys)),
        "restored_next_loss": float(train_step(fresh, fresh_optimizer, xs, ys)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fail-rank", type=int, default=-1)
    parser.add_argument("--save", help="write the trained state here (every rank its shards)")
    parser.add_argument("--save-pth", help="rank 0 alone writes the trained state here (.pth)")
    parser.add_argument("--manager", help="check CheckpointManager saves and restores here")
    args = parser.parse_args()
    if int(os.environ.get("RANK", "0")) == args.fail_rank:
        raise RuntimeError(f"rank {args.fail_rank} fails on purpose")
    import jtorch
    import jtorch.distributed as dist
    from jtorch.distributed import checkpoint as dcp

    jtorch.manual_seed(0)  # seeding before joining the group starts nothing
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    losses, model, _, _ = train(rank, world)
    if args.save:
        dcp.save(model.module.state_dict(), args.save)
    if args.save_pth and rank == 0:  # torch's single-writer habit
        jtorch.save(model.module.state_dict(), args.save_pth)
    if args.save_pth and rank == 1:  # a directory checkpoint needs every rank: refused
        try:
            jtorch.save(model.module.state_dict(), args.save_pth + ".dir")
        except ValueError as err:
            assert "jtorch.distributed.checkpoint.save" in str(err), err
        else:
            raise AssertionError("one rank wrote a directory checkpoint alone")
    total = dist.all_reduce(np.float32(rank + 1))
    largest = dist.all_reduce(np.float32(rank + 1), dist.ReduceOp.MAX)
    from_one = dist.broadcast(np.arange(3, dtype=np.int32) * (rank + 1), src=1)
    gathered = [None] * world
    dist.all_gather(gathered, np.full((2,), rank, np.int32))
    manager = check_manager(args.manager, rank, world) if args.manager else None
    dist.barrier()
    if rank == 0:
        result = {
            "losses": losses,
            "world": world,
            "rank_sum": float(total),
            "rank_max": float(largest),
            "broadcast_from_1": np.asarray(from_one).tolist(),
            "all_gather": [np.asarray(g).tolist() for g in gathered],
            "manager": manager,
        }
        print(json.dumps(result), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
