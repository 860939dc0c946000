"""Parity of Adafactor and Muon (facade and pure optax form) with torch.optim 2.13.

Facade cases train a small jtorch MLP inside `jtorch.jit` and a torch copy on the same random
batches (two parameter groups, mid-run lr edits) and compare every parameter after every step,
then the state_dicts, then continue from each other's state_dict. Pure-form cases run the optax
transformation on a raw pytree with random gradients against torch fed the same gradients.
Tolerances: Adafactor float32, rtol 2e-5 / atol 1e-6. Muon orthogonalises in bfloat16: jtorch
rounds where torch rounds, but a float32 sum inside a matrix product may land on the other side
of a bfloat16 rounding, which moves a parameter by lr·2⁻⁹ at most; Muon's parameters are
compared at atol 1e-4 (lr ≤ 0.05), its momentum buffers at float32 tolerance.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

torch = pytest.importorskip("torch")

from jtorch import nn, optim  # noqa: E402
from jtorch.optim.transforms.muon import _zeropower_via_newtonschulz  # noqa: E402

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

MUON_ATOL = 1e-4

CASES = [
    ("Adafactor", dict()),
    (
        "Adafactor",
        dict(lr=0.05, beta2_decay=-0.5, eps=(1e-3, 1e-2), d=1.5, weight_decay=0.1, maximize=True),
    ),
    ("Muon", dict(lr=0.02)),
    (
        "Muon",
        dict(
            lr=0.05,
            weight_decay=0.05,
            momentum=0.3,
            nesterov=False,
            ns_coefficients=(3.0, -3.2, 1.2),
            eps=1e-5,
            ns_steps=3,
            adjust_lr_fn="match_rms_adamw",
        ),
    ),
]
PURE = {"Adafactor": optim.adafactor, "Muon": optim.muon}
SECOND_GROUP = {
    "Adafactor": dict(lr=0.03, beta2_decay=-0.6, d=2.0, weight_decay=0.05),
    "Muon": dict(lr=0.01, momentum=0.5, adjust_lr_fn="original"),
}


def _groups(name, model):
    """Adafactor: every parameter; Muon: the two weight matrices (torch's Muon takes only 2-D
    parameters; the biases get gradients but no optimizer)."""
    if name == "Muon":
        return [{"params": [model[0].weight]}, {"params": [model[2].weight], **SECOND_GROUP[name]}]
    return [
        {"params": model[0].parameters()},
        {"params": model[2].parameters(), **SECOND_GROUP[name]},
    ]


def _tol(name):
    return dict(rtol=RTOL, atol=MUON_ATOL if name == "Muon" else ATOL)


def _edit_lr(i, *optimizers):
    if i in (8, 16):
        for opt in optimizers:
            opt.param_groups[0]["lr"] *= 0.5
            opt.param_groups[1]["lr"] = 0.02 * i / 8


def _assert_state_dicts(ours, theirs):
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for index, entry in theirs["state"].items():
        mine = ours["state"][index]
        assert list(mine) == list(entry), index
        for key, value in entry.items():
            if key == "step":
                assert np.asarray(mine[key]).dtype == np.float32
            np.testing.assert_allclose(
                np.asarray(mine[key]), value.numpy(), RTOL, ATOL, err_msg=f"{index}/{key}"
            )
    assert ours["param_groups"] == theirs["param_groups"]


def _sd_to_torch(sd):
    state = {
        i: {k: torch.tensor(np.asarray(v)) for k, v in entry.items()}
        for i, entry in sd["state"].items()
    }
    return {"state": state, "param_groups": sd["param_groups"]}


def _sd_to_numpy(sd):
    state = {i: {k: v.numpy() for k, v in e.items()} for i, e in sd["state"].items()}
    return {"state": state, "param_groups": sd["param_groups"]}


@pytest.mark.parametrize("name,kwargs", CASES, ids=[case_id(c) for c in CASES])
def test_facade_matches_torch_on_mlp(name, kwargs):
    """25 steps, two groups, lr edits at steps 8 and 16: parameters every step, state_dicts at the
    end; then jtorch's state_dict loads into a fresh torch optimizer and torch's into a fresh
    jtorch one, each continuing on the same trajectory for 4 steps; one trace for it all."""
    model, ref = mlp_pair()
    optimizer = getattr(optim, name)(_groups(name, model), **kwargs)
    ref_opt = getattr(torch.optim, name)(_groups(name, ref), **kwargs)
    assert list(optimizer.defaults) == list(ref_opt.defaults)
    assert optimizer.defaults == ref_opt.defaults
    train_step, traces = make_train_step()
    data = batches(STEPS + 8)
    for i, (x, y) in enumerate(data[:STEPS]):
        _edit_lr(i, optimizer, ref_opt)
        train_step(model, optimizer, jnp.asarray(x), jnp.asarray(y))
        torch_step(ref, ref_opt, x, y)
        assert_params(model, ref, f"step {i}", **_tol(name))
    _assert_state_dicts(optimizer.state_dict(), ref_opt.state_dict())

    # jtorch -> torch
    ref2 = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    ref2.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()})
    ref_opt2 = getattr(torch.optim, name)(_groups(name, ref2), lr=0.5)
    ref_opt2.load_state_dict(_sd_to_torch(optimizer.state_dict()))
    for i, (x, y) in enumerate(data[STEPS : STEPS + 4]):
        train_step(model, optimizer, jnp.asarray(x), jnp.asarray(y))
        torch_step(ref2, ref_opt2, x, y)
        assert_params(model, ref2, f"torch after load, step {i}", **_tol(name))

    # torch -> jtorch
    optimizer2 = getattr(optim, name)(_groups(name, model), lr=0.5)
    optimizer2.load_state_dict(_sd_to_numpy(ref_opt2.state_dict()))
    assert optimizer2.param_groups[1]["lr"] == ref_opt2.param_groups[1]["lr"]
    for i, (x, y) in enumerate(data[STEPS + 4 :]):
        train_step(model, optimizer2, jnp.asarray(x), jnp.asarray(y))
        torch_step(ref2, ref_opt2, x, y)
        assert_params(model, ref2, f"jtorch after load, step {i}", **_tol(name))
    _assert_state_dicts(optimizer2.state_dict(), ref_opt2.state_dict())
    assert len(traces) == 1, "lr edits and same-structure loads must not retrace"


PURE_SHAPES = {
    "Adafactor": {"w": (4, 3), "conv": (2, 3, 5), "b": (5,), "s": ()},
    "Muon": {"tall": (9, 4), "wide": (3, 16), "square": (12, 12)},
}


# the facade cases cover the rest; these two take both lerp branches and every Adafactor option
PURE_CASES = [CASES[1], CASES[2]]


@pytest.mark.parametrize("name,kwargs", PURE_CASES, ids=[case_id(c) for c in PURE_CASES])
def test_pure_form_matches_torch_on_pytree(name, kwargs):
    """12 compiled updates of the optax form on a pytree (Adafactor: 0-, 1-, 2- and 3-D leaves;
    Muon: tall, wide and square matrices) against torch fed the same gradients."""
    shapes = PURE_SHAPES[name]
    rng = np.random.default_rng(1)
    tree = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    tx = PURE[name](**kwargs)
    params = jax.tree.map(jnp.asarray, tree)
    state = tx.init(params)

    @jax.jit
    def step(params, state, g):
        updates, state = tx.update(g, state, params)
        return optax.apply_updates(params, updates), state

    ref = {k: torch.tensor(v, requires_grad=True) for k, v in tree.items()}
    ref_opt = getattr(torch.optim, name)(list(ref.values()), **kwargs)
    for i in range(12):
        g = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
        params, state = step(params, state, jax.tree.map(jnp.asarray, g))
        for k, p in ref.items():
            p.grad = torch.tensor(g[k])
        ref_opt.step()
        for k, p in ref.items():
            np.testing.assert_allclose(
                np.asarray(params[k]), p.detach().numpy(), err_msg=f"{k} step {i}", **_tol(name)
            )


@pytest.mark.parametrize("name,shape", [("Adafactor", (6,)), ("Muon", (4, 6))], ids=str)
def test_pure_form_with_optax_schedule(name, shape):
    """An optax schedule as lr equals torch with param_groups[0]['lr'] = schedule(t) at step t."""
    schedule = optax.exponential_decay(0.05, transition_steps=1, decay_rate=0.8)
    rng = np.random.default_rng(2)
    params = jnp.asarray(rng.standard_normal(shape), jnp.float32)
    leaf = torch.tensor(np.array(params), requires_grad=True)
    tx = PURE[name](lr=schedule)
    ref_opt = getattr(torch.optim, name)([leaf], lr=float(schedule(0)))
    update = jax.jit(tx.update)
    state = tx.init(params)
    for i in range(8):
        g = rng.standard_normal(shape).astype(np.float32)
        updates, state = update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, updates)
        ref_opt.param_groups[0]["lr"] = float(schedule(i))
        leaf.grad = torch.tensor(g)
        ref_opt.step()
        np.testing.assert_allclose(params, leaf.detach().numpy(), err_msg=f"step {i}", **_tol(name))


NS_SHAPES = [(16, 5), (3, 16), (32, 32)]


@pytest.mark.parametrize("shape", NS_SHAPES, ids=str)
def test_newton_schulz_matches_torch(shape):
    """The bfloat16 orthogonalisation equals torch's to within one bfloat16 rounding of the
    largest entry (2⁻⁸ relative; on this machine it is bit for bit)."""
    from torch.optim._muon import _zeropower_via_newtonschulz as torch_ns

    g = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    coefficients = (3.4445, -4.7750, 2.0315)
    expected = torch_ns(torch.tensor(g), coefficients, 5, 1e-7).float().numpy()
    ns = jax.jit(lambda g: _zeropower_via_newtonschulz(g, coefficients, 5, 1e-7))
    got = np.asarray(ns(jnp.asarray(g)))
    assert got.dtype == jnp.bfloat16
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got.astype(np.float32), expected, rtol=0, atol=scale * 2**-8)


INVALID = [
    ("Adafactor", dict(lr=-1.0)),
    ("Adafactor", dict(beta2_decay=0.5)),
    ("Adafactor", dict(eps=(-1.0, 1e-3))),
    ("Adafactor", dict(eps=(None, -1e-3))),
    ("Adafactor", dict(d=0.5)),
    ("Adafactor", dict(weight_decay=-0.1)),
    ("Muon", dict(lr=-1.0)),
    ("Muon", dict(momentum=-0.9)),
    ("Muon", dict(weight_decay=-0.1)),
    ("Muon", dict(adjust_lr_fn="sqrt")),
]


@pytest.mark.parametrize("name,kwargs", INVALID, ids=[case_id(c) for c in INVALID])
def test_invalid_hyperparameters_raise_like_torch(name, kwargs):
    """torch's ValueError message, from the facade and from the pure form."""
    if name == "Muon":  # torch's Muon checks its parameters' shapes: give it a matrix
        with pytest.raises(ValueError) as expected:
            torch.optim.Muon([torch.zeros(2, 2, requires_grad=True)], **kwargs)
        with pytest.raises(ValueError) as got:
            optim.Muon([nn.Parameter(jnp.zeros((2, 2)))], **kwargs)
        message = str(expected.value)
        assert str(got.value) == message
    else:
        message = assert_rejects_like_torch(name, kwargs)
    with pytest.raises(ValueError) as pure:
        PURE[name](**kwargs)
    assert str(pure.value) == message


def test_muon_rejects_what_torch_rejects_at_step():
    """Non-2-D parameters (torch: at construction), and Newton–Schulz options torch only rejects
    inside step(): here at construction, with torch's words and the argument's name."""
    with pytest.raises(ValueError, match="Muon only supports 2D parameters") as torch_error:
        torch.optim.Muon([torch.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match=r"with size: \(3,\)") as error:
        optim.Muon([nn.Parameter(jnp.zeros(3))])
    assert str(error.value).startswith(str(torch_error.value).split(" torch.Size")[0])
    params = {"w": jnp.zeros((2, 2)), "b": jnp.zeros(2)}
    with pytest.raises(ValueError, match=r"size: \(2,\) at \['b'\]"):
        optim.muon().init(params)
    with pytest.raises(ValueError, match="Number of steps must be less than 100.*ns_steps"):
        optim.Muon([nn.Parameter(jnp.zeros((2, 2)))], ns_steps=100)
    with pytest.raises(ValueError, match="exactly 3 values.*ns_coefficients"):
        optim.muon(ns_coefficients=(1.0, 2.0))
    with pytest.raises(ValueError, match="eps should be a pair"):
        optim.Adafactor([nn.Parameter(jnp.zeros(2))], eps=1e-3)


def test_muon_state_dict_before_first_step_is_empty_like_torch():
    param, ref = nn.Parameter(jnp.ones((3, 2))), torch.ones(3, 2, requires_grad=True)
    expected = torch.optim.Muon([ref]).state_dict()["state"]
    assert optim.Muon([param]).state_dict()["state"] == expected == {}
    with pytest.raises(ValueError, match="needs 'momentum_buffer'"):
        optim.Muon([param]).load_state_dict(
            {"state": {0: {}}, "param_groups": optim.Muon([param]).state_dict()["param_groups"]}
        )
