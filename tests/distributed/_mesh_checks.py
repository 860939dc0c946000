"""Data-parallel checks on 4 simulated CPU devices, run in one subprocess by test_mesh.py.

JAX's device count is fixed when its backend starts, so these run in a fresh interpreter:
`python _mesh_checks.py`. Each check prints `PASS <name>` or `FAIL <name>: <reason>`.
"""

import copy
import functools
import json
import os
import sys
import traceback
from pathlib import Path

import jax

jax.config.update("jax_num_cpu_devices", 4)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from flax import nnx  # noqa: E402

import jtorch  # noqa: E402
import jtorch.distributed as dist  # noqa: E402
from jtorch import nn, optim  # noqa: E402

torch.set_num_threads(1)
DEVICES = 4
STEPS = 3
RTOL, ATOL = 1e-5, 1e-6  # float32: the same maths, reduced in a different order


def mlp():
    jtorch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5))


def cnn():
    jtorch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5)
    )


def torch_cnn(model):
    ref = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 5),
    )
    state = {k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()}
    state["1.num_batches_tracked"] = state["1.num_batches_tracked"].long()
    ref.load_state_dict(state)
    return ref


def batches(shape, n=16):
    rng = np.random.default_rng(1)
    out = []
    for _ in range(STEPS):
        x = rng.standard_normal((n, *shape), dtype=np.float32)
        out.append((x, rng.integers(0, 5, n).astype(np.int32)))
    return out


criterion = nn.CrossEntropyLoss()


@jtorch.jit
def train_step(model, optimizer, x, y):
    loss, grads = jtorch.value_and_grad(lambda m: criterion(m(x), y))(model)
    optimizer.step(grads)
    return loss


def run(model, data, shard):
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for x, y in data:
        x, y = dist.shard_batch((x, y)) if shard else (jnp.asarray(x), jnp.asarray(y))
        losses.append(float(train_step(model, optimizer, x, y)))
    return losses


def close(a, b, what, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, err_msg=what)


def same_state(a, b, rtol=RTOL, atol=ATOL):
    sa = a.state_dict()
    sb = b if isinstance(b, dict) else b.state_dict()
    assert list(sa) == list(sb), (list(sa), list(sb))
    for k in sa:
        close(sa[k], sb[k], k, rtol, atol)


@functools.cache
def one_device(build):
    """Losses and final state_dict of `build()` trained on one device (shared by the checks)."""
    model = build()
    data = batches((12,) if build is mlp else (3, 8, 8))
    return run(model, data, False), model.state_dict()


@functools.cache
def ddp_cnn():
    """Losses and final state_dict of the CNN under DDP (per-device BatchNorm)."""
    model = dist.DistributedDataParallel(cnn())
    return run(model, batches((3, 8, 8)), True), model.module.state_dict()


def check_ddp_mlp():
    """DDP over 4 devices gives the single-device losses and parameters."""
    data = batches((12,))
    losses, state = one_device(mlp)
    ddp = dist.DistributedDataParallel(mlp())
    close(run(ddp, data, True), losses, "losses")
    same_state(ddp.module, state)
    w = ddp.module[0].weight.value
    assert w.sharding.is_fully_replicated and len(w.sharding.device_set) == DEVICES, w.sharding


def check_sync_batchnorm():
    """SyncBatchNorm under DDP equals one BatchNorm over the whole batch (running stats too)."""
    data = batches((3, 8, 8))
    losses, state = one_device(cnn)
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(cnn())
    assert type(synced[1]) is nn.SyncBatchNorm, type(synced[1])
    ddp = dist.DistributedDataParallel(synced)
    close(run(ddp, data, True), losses, "losses", atol=1e-5)
    same_state(ddp.module, state, atol=1e-5)


def check_batchnorm_per_device():
    """Plain BatchNorm under DDP = torch DDP: statistics per device shard, gradients averaged,
    rank 0's running statistics; the torch reference runs BN on each shard and averages."""
    data = batches((3, 8, 8))
    ref = torch_cnn(cnn())
    losses, state = ddp_cnn()
    opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    for step, (x, y) in enumerate(data):
        opt.zero_grad()
        replicas = [copy.deepcopy(ref) for _ in range(DEVICES)]  # one rank each, same state
        loss = 0.0
        for replica, xs, ys in zip(replicas, np.split(x, DEVICES), np.split(y, DEVICES)):
            out = replica(torch.from_numpy(xs))
            shard_loss = torch.nn.functional.cross_entropy(out, torch.from_numpy(ys).long())
            (shard_loss / DEVICES).backward()  # DDP averages the ranks' gradients
            loss += shard_loss.item() / DEVICES
        with torch.no_grad():
            for p, *copies in zip(ref.parameters(), *(r.parameters() for r in replicas)):
                p.grad = sum(c.grad for c in copies)
            for buf, rank0 in zip(ref.buffers(), replicas[0].buffers()):
                buf.copy_(rank0)  # torch broadcasts rank 0's buffers
        opt.step()
        close(losses[step], loss, f"loss at step {step}", atol=1e-5)
    for k, v in ref.state_dict().items():
        close(state[k], v.numpy(), k, atol=1e-5)


def device0_bytes(tree):
    """Bytes of `tree`'s arrays stored on device 0."""
    dev0 = jax.devices()[0]
    return sum(
        s.data.nbytes
        for a in jax.tree.leaves(tree)
        for s in a.addressable_shards
        if s.device == dev0
    )


def params_and_state_bytes(model, optimizer):
    params = [p.value for p in model.parameters()]
    return device0_bytes(params) + device0_bytes(optimizer.state_dict()["state"])


def check_fsdp_matches_one_device():
    """fully_shard and FullyShardedDataParallel give the single-device losses and parameters;
    parameters and optimizer state stay split over the devices after the steps."""
    data = batches((12,))
    expected, state = one_device(mlp)
    for model in (dist.fully_shard(mlp()), dist.FullyShardedDataParallel(mlp())):
        close(run(model, data, True), expected, f"{type(model).__name__} losses")
        inner = getattr(model, "module", model)
        same_state(inner, state)
        spec = inner[0].weight.value.sharding.spec
        assert spec == jax.sharding.PartitionSpec("data"), spec


def check_fsdp_memory_falls():
    """Parameters + Adam state per device: FSDP on 4 devices stores about 1/4 of DDP's."""
    x, y = dist.shard_batch(tuple(batches((12,))[0]))
    per_device = {}
    for name, wrap in (("ddp", dist.DistributedDataParallel), ("fsdp", dist.fully_shard)):
        model = wrap(mlp())
        optimizer = optim.Adam(model.parameters(), lr=1e-3)
        train_step(model, optimizer, x, y)
        per_device[name] = params_and_state_bytes(model, optimizer)
    # every array but the (5,) bias of the last layer splits 4 ways
    assert per_device["fsdp"] < 0.27 * per_device["ddp"], per_device


def check_optimizer_facade_on_shards():
    """Adam + StepLR over FSDP shards: param_groups' lr follows the scheduler, the state stays
    split, and the torch-format state_dict gathered whole equals one device's."""
    from jtorch.distributed import checkpoint as dcp

    x, y = batches((12,))[0]
    results = []
    for shard in (False, True):
        model = dist.fully_shard(mlp()) if shard else mlp()
        optimizer = optim.Adam(model.parameters(), lr=1e-2)
        scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        xs, ys = dist.shard_batch((x, y)) if shard else (jnp.asarray(x), jnp.asarray(y))
        for _ in range(2):
            train_step(model, optimizer, xs, ys)
            scheduler.step()
        assert optimizer.param_groups[0]["lr"] == 2.5e-3, optimizer.param_groups[0]["lr"]
        state = optimizer.state_dict()
        if shard:
            exp_avg = state["state"][0]["exp_avg"]
            assert not exp_avg.sharding.is_fully_replicated, exp_avg.sharding
        results.append((dcp.gather(state), dcp.gather(model.state_dict())))
    (opt_one, params_one), (opt_sharded, params_sharded) = results
    assert opt_sharded["param_groups"] == opt_one["param_groups"]
    for i, entry in opt_one["state"].items():
        for k, v in entry.items():
            assert isinstance(opt_sharded["state"][i][k], np.ndarray), (i, k)
            close(opt_sharded["state"][i][k], v, f"state[{i}][{k}]")
    for k, v in params_one.items():
        close(params_sharded[k], v, k)


def check_data_parallel():
    """nn.DataParallel splits plain batches over the 4 local devices like DDP (per-device
    BatchNorm); its state_dict has torch's `module.` prefix and `.module`'s loads into the bare
    model."""
    data = batches((3, 8, 8))
    losses, state = ddp_cnn()
    dp = nn.DataParallel(cnn())
    assert dp.device_ids == tuple(range(DEVICES)), dp.device_ids
    close(run(dp, data, False), losses, "losses")
    same_state(dp.module, state)
    bare = cnn()
    bare.load_state_dict(dp.module.state_dict())
    same_state(bare, dp.module, 0, 0)


def check_checkpoint_across_device_counts():
    """A checkpoint written on 1 device (by test_mesh.py) restores onto 4-way sharded FSDP
    parameters; one written here from 4-way shards is read back on 1 device by test_mesh.py."""
    from jtorch.distributed import checkpoint as dcp

    root = Path(os.environ["JTORCH_TEST_CKPT_DIR"])
    model = dist.fully_shard(nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5)))
    loaded = dcp.load(model.state_dict(), root / "one")
    expected = np.load(root / "one.npz")
    for k, v in loaded.items():
        close(v, expected[k], k, 0, 0)
        assert v.sharding == model.state_dict()[k].sharding, (k, v.sharding)
    model.load_state_dict(loaded)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    train_step(model, optimizer, *dist.shard_batch(tuple(batches((12,))[0])))
    assert not model[0].weight.value.sharding.is_fully_replicated
    dcp.save(model.state_dict(), root / "four")
    # in one process jtorch.save writes the shards too; map_location may be a sharding
    jtorch.save(model.state_dict(), root / "four_jtorch")
    everywhere = jax.sharding.NamedSharding(dist.data_mesh(), jax.sharding.PartitionSpec())
    for k, v in jtorch.load(root / "four_jtorch", map_location=everywhere).items():
        assert v.sharding == everywhere, (k, v.sharding)
        close(v, model.state_dict()[k], k, 0, 0)
    np.savez(root / "four.npz", **{k: np.asarray(v) for k, v in model.state_dict().items()})


def check_cli_train_devices():
    """`jtorch train --devices 4` (DDP over the 4 devices) trains like `jtorch train`."""
    from jtorch.cli import main

    root = Path(os.environ["JTORCH_TEST_CKPT_DIR"])
    args = ["train", "--model", "mlp", "--epochs", "1", "--limit", "200", "--augment", "0"]
    args += ["--quiet", "--output-dir", str(root)]
    histories = []
    for devices in ("1", "4"):
        assert main([*args, "--devices", devices, "--name", f"devices{devices}"]) == 0
        summary = json.loads((root / f"devices{devices}" / "history.json").read_text())
        histories.append(summary["history"])
    one, four = histories
    for key in ("train_loss", "val_loss", "val_accuracy"):
        close(four[key], one[key], key)


def check_compiled_step_all_reduces():
    """The compiled DDP gradient step contains an all-reduce and no host transfer."""
    model = dist.DistributedDataParallel(mlp())
    x, y = dist.shard_batch(tuple(batches((12,))[0]))
    graphdef, state = nnx.split(model)

    def grads(state, x, y):
        m = nnx.merge(graphdef, state)
        return jtorch.grad(lambda m: criterion(m(x), y))(m)

    hlo = jax.jit(grads).lower(state, x, y).compile().as_text()
    assert "all-reduce" in hlo, "no all-reduce in the compiled step"
    for word in ("outfeed", "infeed", "send(", "recv(", "callback"):
        assert word not in hlo, f"{word!r} in the compiled step"


def check_batch_not_divisible():
    """A batch that does not split over the devices is refused, naming the shape."""
    model = dist.DistributedDataParallel(mlp())
    try:
        model(jnp.zeros((6, 12)))
    except ValueError as err:
        assert "(6, 12)" in str(err) and "4 devices" in str(err), err
    else:
        raise AssertionError("no error for a batch of 6 on 4 devices")
    try:
        dist.shard_batch(jnp.zeros((5, 12)))
    except ValueError as err:
        assert "(5, 12)" in str(err), err
    else:
        raise AssertionError("shard_batch accepted a batch of 5 on 4 devices")


def check_state_dict_prefix():
    """DDP's own state_dict has torch's `module.` prefix; `.module`'s has none."""
    model = dist.DistributedDataParallel(mlp())
    assert list(model.state_dict()) == ["module." + k for k in model.module.state_dict()]


def check_load_state_dict_keeps_placement():
    """Loading plain (numpy) state into a DDP or FSDP model and its optimizer keeps the arrays
    replicated or split over the 4 devices, as torch's load_state_dict copies into the existing
    tensors; the values are the loaded ones and a step still runs."""
    from jtorch.distributed import checkpoint as dcp

    x, y = batches((12,))[0]
    for wrap in (dist.DistributedDataParallel, dist.fully_shard):
        model = wrap(mlp())
        optimizer = optim.Adam(model.parameters(), lr=1e-2)
        xs, ys = dist.shard_batch((x, y))
        train_step(model, optimizer, xs, ys)
        placed = {k: v.sharding for k, v in model.state_dict().items()}
        moments = {i: e["exp_avg"].sharding for i, e in optimizer.state_dict()["state"].items()}
        plain = {k: np.asarray(v) + 1 for k, v in model.state_dict().items()}
        plain_opt = dcp.gather(optimizer.state_dict())
        model.load_state_dict(plain)
        optimizer.load_state_dict(plain_opt)
        for k, v in model.state_dict().items():
            assert v.sharding == placed[k], (wrap.__name__, k, v.sharding)
            close(v, plain[k], k, 0, 0)
        for i, entry in optimizer.state_dict()["state"].items():
            assert entry["exp_avg"].sharding == moments[i], (wrap.__name__, i)
            close(entry["exp_avg"], plain_opt["state"][i]["exp_avg"], f"exp_avg {i}", 0, 0)
        train_step(model, optimizer, xs, ys)


def check_single_process_group():
    """A group of one process: rank 0 of 1; collectives return the value itself."""
    dist.init_process_group("gloo", world_size=1, rank=0)
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    x = jnp.arange(3.0)
    close(dist.all_reduce(x), x, "all_reduce")
    close(dist.all_reduce(x, dist.ReduceOp.MAX), x, "all_reduce max")
    close(dist.broadcast(x, 0), x, "broadcast")
    out = [None]
    dist.all_gather(out, x)
    close(out[0], x, "all_gather")
    dist.barrier()
    dist.destroy_process_group()
    assert not dist.is_initialized()


CHECKS = {name[len("check_") :]: fn for name, fn in globals().items() if name.startswith("check_")}

if __name__ == "__main__":
    assert jax.device_count() == DEVICES, jax.devices()
    failed = False
    for name in sys.argv[1:] or CHECKS:
        try:
            CHECKS[name]()
            print(f"PASS {name}", flush=True)
        except Exception:
            failed = True
            reason = traceback.format_exc().strip().replace("\n", "\n    ")
            print(f"FAIL {name}: {reason}", flush=True)
    sys.exit(1 if failed else 0)
