"""Parity of SGD, ASGD, Adadelta, Adagrad, Adam, AdamW, Adamax, SparseAdam with torch.optim.

Facade cases train a small jtorch ReLU MLP inside `jtorch.jit` and a copy of it in torch on the same
random batches and compare every parameter after every step (float32, rtol 2e-5, atol 1e-6), then
the state_dicts. Pure-form cases run the optax transformation on a raw pytree with random gradients
against torch fed the same gradients (same tolerance). The no-op options (`foreach`, `fused`,
`capturable`, `differentiable`) are given to jtorch only; torch runs its default CPU kernels.
SparseAdam's torch gradients are the dense gradients' `.to_sparse()` (zero entries absent).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

torch = pytest.importorskip("torch")

from jtorch import optim  # noqa: E402

from ._optim_helpers import (  # noqa: E402
    ATOL,
    RTOL,
    STEPS,
    assert_params,
    assert_rejects_like_torch,
    batches,
    case_id,
    make_train_step,
    mlp_pair,
    torch_step,
)

NO_OP = ("foreach", "fused", "capturable", "differentiable")

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True, foreach=True, fused=False)),
    ("ASGD", dict(lr=0.05)),
    (
        "ASGD",
        dict(lr=0.05, lambd=1e-2, alpha=0.6, t0=10, weight_decay=0.01, maximize=True, foreach=True),
    ),
    ("Adadelta", dict()),
    (
        "Adadelta",
        dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True, capturable=True),
    ),
    ("Adagrad", dict(lr=0.05)),
    (
        "Adagrad",
        dict(
            lr=0.05,
            lr_decay=0.01,
            weight_decay=0.1,
            initial_accumulator_value=0.1,
            eps=1e-8,
            maximize=True,
            fused=None,
            differentiable=False,
        ),
    ),
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True)),
    (
        "Adam",
        dict(
            lr=1e-2,
            weight_decay=0.1,
            decoupled_weight_decay=True,
            maximize=True,
            capturable=True,
            differentiable=True,
            foreach=False,
        ),
    ),
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1, amsgrad=True, maximize=True, capturable=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=1e-2, betas=(0.5, 0.9), eps=1e-4, weight_decay=0.1, maximize=True)),
    ("SparseAdam", dict(lr=1e-2)),
    ("SparseAdam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
]
PURE = {
    "SGD": optim.sgd, "ASGD": optim.asgd, "Adadelta": optim.adadelta, "Adagrad": optim.adagrad,
    "Adam": optim.adam, "AdamW": optim.adamw, "Adamax": optim.adamax,
    "SparseAdam": optim.sparse_adam,
}  # fmt: skip


def _torch_kwargs(kwargs):
    return {k: v for k, v in kwargs.items() if k not in NO_OP}


def _torch_step(name, ref, ref_opt, x, y):
    torch_step(ref, ref_opt, x, y, sparse_grads=name == "SparseAdam")


def _to_numpy(x):
    return x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _assert_state_dicts(ours, theirs, compare_groups=True):
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for index, entry in theirs["state"].items():
        mine = ours["state"][index]
        assert sorted(mine) == sorted(entry), index
        for key, value in entry.items():
            if key == "step":
                assert type(mine[key]) is type(value) or isinstance(value, torch.Tensor)
                if isinstance(value, torch.Tensor):
                    assert np.asarray(mine[key]).dtype == np.float32
            np.testing.assert_allclose(
                np.asarray(mine[key]), _to_numpy(value), RTOL, ATOL, err_msg=f"{index}/{key}"
            )
    assert len(ours["param_groups"]) == len(theirs["param_groups"])
    for mine, group in zip(ours["param_groups"], theirs["param_groups"]):
        assert sorted(mine) == sorted(group)
        if compare_groups:
            assert {k: v for k, v in mine.items() if k not in NO_OP} == {
                k: v for k, v in group.items() if k not in NO_OP
            }


def _sd_to_torch(sd):
    """jtorch's state_dict with every array turned into a torch tensor."""
    state = {
        i: {k: torch.tensor(np.asarray(v)) if hasattr(v, "shape") else v for k, v in entry.items()}
        for i, entry in sd["state"].items()
    }
    # the no-op options given to jtorch stay out of torch (capturable needs CUDA there)
    groups = [{k: v for k, v in g.items() if k not in NO_OP} for g in sd["param_groups"]]
    return {"state": state, "param_groups": groups}


def _sd_to_numpy(sd):
    state = {
        i: {k: v.detach().numpy() if isinstance(v, torch.Tensor) else v for k, v in e.items()}
        for i, e in sd["state"].items()
    }
    return {"state": state, "param_groups": sd["param_groups"]}


# options of the second parameter group (model[2]); the first group uses the case's defaults
SECOND_GROUP = {
    "SGD": dict(lr=0.01, momentum=0.5, dampening=0, nesterov=True),
    "ASGD": dict(lr=0.02, t0=5, weight_decay=0.1),
    "Adadelta": dict(lr=0.3, rho=0.5),
    "Adagrad": dict(lr=0.1, lr_decay=0.1, eps=1e-6),
    "Adam": dict(lr=3e-2, betas=(0.5, 0.9), amsgrad=True, weight_decay=0.1),
    "AdamW": dict(lr=3e-2, weight_decay=0.5, maximize=False),
    "Adamax": dict(lr=3e-2, betas=(0.7, 0.8)),
    "SparseAdam": dict(lr=3e-2, betas=(0.7, 0.8)),
}


def _groups(name, model):
    return [
        {"params": model[0].parameters()},
        {"params": model[2].parameters(), **SECOND_GROUP[name]},
    ]


def _edit_hyperparameters(i, *optimizers):
    """Mid-run edits, made identically in jtorch and torch."""
    if i not in (8, 16):
        return
    for opt in optimizers:
        opt.param_groups[0]["lr"] *= 0.5
        opt.param_groups[1]["lr"] = 0.02 * i / 8
        if "eps" in opt.param_groups[1]:
            opt.param_groups[1]["eps"] = 1e-4


@pytest.mark.parametrize("name,kwargs", CASES, ids=[case_id(c) for c in CASES])
def test_facade_matches_torch_on_mlp(name, kwargs):
    """25 steps with two param groups and mid-run lr/eps edits, parameters compared every step;
    state_dicts compared; then jtorch's state_dict loads into a fresh torch optimizer and torch's
    into a fresh jtorch optimizer, each continuing on the same trajectory. The jtorch step is
    traced once for all of it (edits and loads of same-structured optimizers never recompile)."""
    model, ref = mlp_pair()
    optimizer = getattr(optim, name)(_groups(name, model), **kwargs)
    ref_opt = getattr(torch.optim, name)(_groups(name, ref), **_torch_kwargs(kwargs))
    assert optimizer.defaults.keys() == ref_opt.defaults.keys()
    train_step, traces = make_train_step()
    steps_data = batches(STEPS + 8)
    for i, (x, y) in enumerate(steps_data[:STEPS]):
        _edit_hyperparameters(i, optimizer, ref_opt)
        train_step(model, optimizer, jnp.asarray(x), jnp.asarray(y))
        _torch_step(name, ref, ref_opt, x, y)
        assert_params(model, ref, f"step {i}")
    _assert_state_dicts(optimizer.state_dict(), ref_opt.state_dict())

    # jtorch -> torch: a fresh torch optimizer loads jtorch's state_dict (as torch tensors)
    ref2 = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    ref2.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()})
    ref_opt2 = getattr(torch.optim, name)(_groups(name, ref2), lr=123.0)
    ref_opt2.load_state_dict(_sd_to_torch(optimizer.state_dict()))
    for i, (x, y) in enumerate(steps_data[STEPS : STEPS + 4]):
        train_step(model, optimizer, jnp.asarray(x), jnp.asarray(y))
        _torch_step(name, ref2, ref_opt2, x, y)
        assert_params(model, ref2, f"torch after load, step {i}")

    # torch -> jtorch: a fresh jtorch optimizer loads torch's state_dict (numpy arrays)
    optimizer2 = getattr(optim, name)(_groups(name, model), lr=123.0)
    optimizer2.load_state_dict(_sd_to_numpy(ref_opt2.state_dict()))
    assert optimizer2.param_groups[0]["lr"] == ref_opt2.param_groups[0]["lr"]
    for i, (x, y) in enumerate(steps_data[STEPS + 4 :]):
        train_step(model, optimizer2, jnp.asarray(x), jnp.asarray(y))
        _torch_step(name, ref2, ref_opt2, x, y)
        assert_params(model, ref2, f"jtorch after load, step {i}")
    _assert_state_dicts(optimizer2.state_dict(), ref_opt2.state_dict(), compare_groups=False)
    assert len(traces) == 1, "edits and same-structure loads must not retrace"


def _pytree(rng):
    return {
        "w": rng.standard_normal((3, 4)).astype(np.float32),
        "b": [rng.standard_normal(5).astype(np.float32), np.float32(rng.standard_normal())],
    }


@pytest.mark.parametrize("name,kwargs", CASES, ids=[case_id(c) for c in CASES])
def test_pure_form_matches_torch_on_pytree(name, kwargs):
    rng = np.random.default_rng(1)
    params = jax.tree.map(jnp.asarray, _pytree(rng))
    leaves = [torch.tensor(np.array(x), requires_grad=True) for x in jax.tree.leaves(params)]
    tx = PURE[name](**kwargs)
    ref_opt = getattr(torch.optim, name)(leaves, **_torch_kwargs(kwargs))
    update = jax.jit(tx.update)
    state = tx.init(params)
    for i in range(STEPS):
        grads = _pytree(rng)
        if name == "SparseAdam":  # zero entries are absent from torch's sparse gradient
            grads = jax.tree.map(lambda g: np.where(rng.random(np.shape(g)) < 0.4, 0, g), grads)
        updates, state = update(jax.tree.map(jnp.asarray, grads), state, params)
        params = optax.apply_updates(params, updates)
        for leaf, g in zip(leaves, jax.tree.leaves(grads)):
            leaf.grad = torch.tensor(np.array(g, np.float32))
            if name == "SparseAdam":
                leaf.grad = leaf.grad.to_sparse()
        ref_opt.step()
        for mine, theirs in zip(jax.tree.leaves(params), leaves):
            np.testing.assert_allclose(mine, theirs.detach().numpy(), RTOL, ATOL, f"step {i}")


SCHEDULE_CASES = [
    ("SGD", dict(momentum=0.9)),
    ("ASGD", dict(lambd=1e-2)),
    ("Adagrad", dict(lr_decay=0.1)),
    ("Adam", dict(amsgrad=True)),
    ("Adamax", dict()),
    ("Adadelta", dict()),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULE_CASES, ids=[case_id(c) for c in SCHEDULE_CASES])
def test_pure_form_with_optax_schedule(name, kwargs):
    """An optax schedule as lr equals torch with param_groups[0]['lr'] = schedule(t) at step t."""
    schedule = optax.exponential_decay(0.05, transition_steps=1, decay_rate=0.9)
    rng = np.random.default_rng(2)
    params = jnp.asarray(rng.standard_normal(6), jnp.float32)
    leaf = torch.tensor(np.array(params), requires_grad=True)
    tx = PURE[name](lr=schedule, **kwargs)
    ref_opt = getattr(torch.optim, name)([leaf], lr=float(schedule(0)), **kwargs)
    state = tx.init(params)
    for i in range(STEPS):
        g = rng.standard_normal(6).astype(np.float32)
        updates, state = tx.update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, updates)
        ref_opt.param_groups[0]["lr"] = float(schedule(i))
        leaf.grad = torch.tensor(g)
        ref_opt.step()
        np.testing.assert_allclose(params, leaf.detach().numpy(), RTOL, ATOL, f"step {i}")


INVALID = [
    ("SGD", dict(lr=-1)),
    ("SGD", dict(lr=0.1, momentum=-0.5)),
    ("SGD", dict(lr=0.1, weight_decay=-1e-3)),
    ("SGD", dict(lr=0.1, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("ASGD", dict(lr=-0.1)),
    ("ASGD", dict(weight_decay=-1.0)),
    ("Adadelta", dict(lr=-1.0)),
    ("Adadelta", dict(rho=1.5)),
    ("Adadelta", dict(eps=-1e-6)),
    ("Adadelta", dict(weight_decay=-1.0)),
    ("Adagrad", dict(lr=-1.0)),
    ("Adagrad", dict(lr_decay=-1.0)),
    ("Adagrad", dict(weight_decay=-1.0)),
    ("Adagrad", dict(initial_accumulator_value=-1.0)),
    ("Adagrad", dict(eps=-1.0)),
    ("Adam", dict(lr=-1)),
    ("Adam", dict(eps=-1.0)),
    ("Adam", dict(betas=(1.5, 0.999))),
    ("Adam", dict(betas=(0.9, 1.0))),
    ("Adam", dict(weight_decay=-0.1)),
    ("Adam", dict(betas=(0, 0.9))),
    ("AdamW", dict(betas=(0.9, -0.1))),
    ("AdamW", dict(lr=-1e-3)),
    ("Adamax", dict(betas=(-0.1, 0.9))),
    ("Adamax", dict(eps=-1.0)),
    ("Adamax", dict(weight_decay=-1.0)),
    ("SparseAdam", dict(lr=0.0)),
    ("SparseAdam", dict(eps=0.0)),
    ("SparseAdam", dict(betas=(0.9, 1.0))),
]


@pytest.mark.parametrize("name,kwargs", INVALID, ids=[case_id(c) for c in INVALID])
def test_invalid_hyperparameters_raise_like_torch(name, kwargs):
    message = assert_rejects_like_torch(name, kwargs)
    if kwargs.get("betas") != (0, 0.9):  # the pure forms do not check the betas' types
        with pytest.raises(ValueError) as pure:
            PURE[name](**kwargs)
        assert str(pure.value) == message
