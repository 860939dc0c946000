"""Parity of RAdam, NAdam, RMSprop, Rprop (facade and pure optax form) and LBFGS with torch.optim.

Facade cases train a small jtorch MLP and a copy of it in torch on the same random batches and
compare every parameter after the run (float32, rtol 2e-5); pure-form cases run the optax
transformation on a raw pytree with random gradients against torch fed the same gradients.
LBFGS is compared at rtol 1e-3, both line-search modes.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch  # noqa: E402
from jtorch import nn, optim  # noqa: E402

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

CASES = [
    ("RAdam", dict(lr=1e-2)),
    ("RAdam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("RAdam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("NAdam", dict(lr=1e-2)),
    ("NAdam", dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1, momentum_decay=1e-2)),
    ("NAdam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RMSprop", dict(lr=1e-2)),
    ("RMSprop", dict(lr=1e-2, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.9)),
    ("RMSprop", dict(lr=1e-2, centered=True, momentum=0.5, maximize=True)),
    ("RMSprop", dict(weight_decay=0.1, centered=True, momentum=0.1, maximize=True)),
    ("Rprop", dict(lr=1e-2)),
    ("Rprop", dict(lr=1e-3, etas=(0.3, 1.5), step_sizes=(1e-4, 0.02), maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[case_id(c) for c in CASES])
def test_facade_matches_torch_on_mlp(name, kwargs):
    model, ref = mlp_pair("Tanh")
    optimizer = getattr(optim, name)(model.parameters(), **kwargs)
    ref_opt = getattr(torch.optim, name)(ref.parameters(), **kwargs)
    train_step, _ = make_train_step()
    for x, y in batches(STEPS):
        train_step(model, optimizer, jnp.asarray(x), jnp.asarray(y))
        torch_step(ref, ref_opt, x, y)
    assert_params(model, ref)


PURE_CASES = [
    ("radam", "RAdam", dict(lr=1e-2, weight_decay=0.05)),
    ("radam", "RAdam", dict(lr=1e-2, weight_decay=0.05, decoupled_weight_decay=True)),
    ("nadam", "NAdam", dict(lr=1e-2, momentum_decay=8e-3, maximize=True)),
    ("nadam", "NAdam", dict(lr=1e-2, weight_decay=0.05, decoupled_weight_decay=True)),
    ("rmsprop", "RMSprop", dict(lr=1e-2, momentum=0.9, centered=True, weight_decay=0.05)),
    ("rprop", "Rprop", dict(lr=1e-2, etas=(0.4, 1.3))),
]


@pytest.mark.parametrize(
    "name,torch_name,kwargs", PURE_CASES, ids=[case_id(c[1:]) for c in PURE_CASES]
)
def test_pure_form_matches_torch_on_pytree(name, torch_name, kwargs):
    rng = np.random.default_rng(1)
    tree = {"w": rng.standard_normal((4, 3), np.float32), "b": rng.standard_normal(3, np.float32)}
    grads = [
        {k: rng.standard_normal(v.shape, np.float32) for k, v in tree.items()} for _ in range(30)
    ]
    tx = getattr(optim, name)(**kwargs)
    params = jax.tree.map(jnp.asarray, tree)
    state = tx.init(params)

    @jax.jit
    def step(params, state, g):
        updates, state = tx.update(g, state, params)
        return jax.tree.map(jnp.add, params, updates), state

    ref = {k: torch.tensor(v, requires_grad=True) for k, v in tree.items()}
    ref_opt = getattr(torch.optim, torch_name)(list(ref.values()), **kwargs)
    for g in grads:
        params, state = step(params, state, jax.tree.map(jnp.asarray, g))
        for k, p in ref.items():
            p.grad = torch.tensor(g[k])
        ref_opt.step()
    for k, p in ref.items():
        np.testing.assert_allclose(np.asarray(params[k]), p.detach().numpy(), rtol=RTOL, atol=ATOL)


def test_rmsprop_averages_match_torch_to_rounding():
    """The case torch's optim_db drifted on: after 16 steps `square_avg` and `grad_avg` equal
    torch's to within 4e-7 of their largest magnitude (a few float32 roundings). Weighting by
    (1 − α) computed from a float32 α, as before the fix, is off by ~1e-6 there."""
    kwargs = dict(weight_decay=0.1, centered=True, momentum=0.1, maximize=True)
    rng = np.random.default_rng(3)
    init = rng.standard_normal(500).astype(np.float32)
    param, ref = nn.Parameter(jnp.asarray(init)), torch.tensor(init, requires_grad=True)
    optimizer, ref_opt = optim.RMSprop([param], **kwargs), torch.optim.RMSprop([ref], **kwargs)
    for _ in range(16):
        g = rng.standard_normal(500).astype(np.float32)
        optimizer.step([jnp.asarray(g)])
        ref.grad = torch.tensor(g)
        ref_opt.step()
    ours, theirs = optimizer.state[param], ref_opt.state[ref]
    for key in ("square_avg", "grad_avg"):
        expected = theirs[key].numpy()
        atol = 4e-7 * np.abs(expected).max()
        np.testing.assert_allclose(np.asarray(ours[key]), expected, rtol=0, atol=atol, err_msg=key)
    np.testing.assert_allclose(np.asarray(param), ref.detach().numpy(), rtol=RTOL, atol=ATOL)


def test_pure_form_accepts_schedule():
    tx = optim.rmsprop(lr=lambda count: 0.1 / (1 + count))
    params = {"w": jnp.ones(3)}
    state = tx.init(params)
    updates, state = tx.update({"w": jnp.ones(3)}, state, params)
    np.testing.assert_allclose(updates["w"], -0.1 / (np.sqrt(0.01) + 1e-8), rtol=1e-6)


INVALID = [
    ("RAdam", dict(lr=-1.0)),
    ("RAdam", dict(eps=-1.0)),
    ("RAdam", dict(betas=(1.0, 0.999))),
    ("RAdam", dict(betas=(0.9, -0.1))),
    ("RAdam", dict(weight_decay=-1.0)),
    ("NAdam", dict(lr=-1.0)),
    ("NAdam", dict(betas=(0.9, 1.5))),
    ("NAdam", dict(momentum_decay=-1.0)),
    ("RMSprop", dict(lr=-1.0)),
    ("RMSprop", dict(eps=-1.0)),
    ("RMSprop", dict(momentum=-1.0)),
    ("RMSprop", dict(weight_decay=-1.0)),
    ("RMSprop", dict(alpha=-1.0)),
    ("Rprop", dict(lr=-1.0)),
    ("Rprop", dict(etas=(1.5, 1.2))),
    ("Rprop", dict(etas=(0.5, 0.9))),
]


@pytest.mark.parametrize("name,kwargs", INVALID, ids=[case_id(c) for c in INVALID])
def test_invalid_hyperparameters_raise_like_torch(name, kwargs):
    assert_rejects_like_torch(name, kwargs)


def _regression_pair():
    jtorch.manual_seed(0)
    model = nn.Linear(6, 2)
    ref = torch.nn.Linear(6, 2)
    ref.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()})
    return model, ref


def _quartic_loss(out, y):
    return ((out - y) ** 2).mean() + 0.1 * (out**4).mean()


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_matches_torch(line_search_fn):
    """Five LBFGS steps (4 inner iterations each, history 3) on fresh batches, compiled with
    jtorch.jit; losses, iteration/evaluation counts and parameters as torch (rtol 1e-3)."""
    model, ref = _regression_pair()
    kwargs = dict(lr=0.5, max_iter=4, history_size=3, line_search_fn=line_search_fn)
    optimizer = optim.LBFGS(model.parameters(), **kwargs)
    ref_opt = torch.optim.LBFGS(ref.parameters(), **kwargs)

    @jtorch.jit
    def train_step(model, optimizer, x, y):
        return optimizer.step(lambda m: _quartic_loss(m(x), y), model)

    rng = np.random.default_rng(0)
    for _ in range(5):
        x, y = rng.standard_normal((16, 6), np.float32), rng.standard_normal((16, 2), np.float32)

        def closure(x=x, y=y):
            ref_opt.zero_grad()
            loss = _quartic_loss(ref(torch.tensor(x)), torch.tensor(y))
            loss.backward()
            return loss

        loss = train_step(model, optimizer, jnp.asarray(x), jnp.asarray(y))
        expected = ref_opt.step(closure)
        np.testing.assert_allclose(float(loss), float(expected.detach()), rtol=1e-3)
    assert_params(model, ref, rtol=1e-3, atol=1e-5)
    state = ref_opt.state[next(iter(ref.parameters()))]
    assert (int(optimizer._lbfgs_state.n_iter), int(optimizer._lbfgs_state.func_evals)) == (
        state["n_iter"],
        state["func_evals"],
    )


def test_lbfgs_eager_with_torch_style_closure():
    """Outside jit, with a closure over the model (torch's form): same result as torch."""
    model, ref = _regression_pair()
    optimizer = optim.LBFGS(model.parameters(), max_iter=3, line_search_fn="strong_wolfe")
    ref_opt = torch.optim.LBFGS(ref.parameters(), max_iter=3, line_search_fn="strong_wolfe")
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 6), np.float32), rng.standard_normal((16, 2), np.float32)
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def closure():
        ref_opt.zero_grad()
        loss = _quartic_loss(ref(torch.tensor(x)), torch.tensor(y))
        loss.backward()
        return loss

    loss = optimizer.step(lambda: _quartic_loss(model(xj), yj))
    np.testing.assert_allclose(float(loss), float(ref_opt.step(closure).detach()), rtol=1e-5)
    assert_params(model, ref, rtol=1e-3, atol=1e-5)


def test_lbfgs_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.LBFGS([nn.Parameter(jnp.zeros(2))], lr=-1)
    params = [nn.Parameter(jnp.zeros(2)), nn.Parameter(jnp.zeros(2))]
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [params[0]]}, {"params": [params[1]]}])
    with pytest.raises(TypeError, match="pass it"):
        optim.LBFGS(params).step(lambda m: m(0))


SD_CASES = [
    ("RAdam", dict(lr=1e-2, weight_decay=0.1)),
    ("NAdam", dict(lr=1e-2, decoupled_weight_decay=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=1e-2, momentum=0.9, centered=True)),
    ("RMSprop", dict(lr=1e-2)),
    ("Rprop", dict(lr=1e-2)),
]


@pytest.mark.parametrize("name,kwargs", SD_CASES, ids=[case_id(c) for c in SD_CASES])
def test_state_dict_matches_torch_and_loads_both_ways(name, kwargs):
    """After 4 steps: same state keys and values (rtol 2e-5) and param_groups as torch; torch's
    state_dict loaded into a fresh jtorch optimizer continues on torch's trajectory."""
    rng = np.random.default_rng(2)
    init = rng.standard_normal(5).astype(np.float32)
    grads = [rng.standard_normal(5).astype(np.float32) for _ in range(8)]
    param = nn.Parameter(jnp.asarray(init))
    ref = torch.tensor(init, requires_grad=True)
    optimizer = getattr(optim, name)([param], **kwargs)
    ref_opt = getattr(torch.optim, name)([ref], **kwargs)

    def torch_step(g):
        ref.grad = torch.tensor(g)
        ref_opt.step()

    for g in grads[:4]:
        optimizer.step([jnp.asarray(g)])
        torch_step(g)
    ours, theirs = optimizer.state_dict(), ref_opt.state_dict()
    assert ours["param_groups"] == theirs["param_groups"]
    assert list(ours["state"][0]) == list(theirs["state"][0])
    for key, value in theirs["state"][0].items():
        np.testing.assert_allclose(np.asarray(ours["state"][0][key]), value.numpy(), rtol=RTOL)

    resumed_param = nn.Parameter(jnp.asarray(ref.detach().numpy()))
    resumed = getattr(optim, name)([resumed_param], **kwargs)
    resumed.load_state_dict(theirs)
    for g in grads[4:]:
        resumed.step([jnp.asarray(g)])
        torch_step(g)
    np.testing.assert_allclose(
        np.asarray(resumed_param), ref.detach().numpy(), rtol=RTOL, atol=ATOL
    )
