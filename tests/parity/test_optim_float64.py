"""float64 end to end: every optimizer family and the lr schedulers against float64 torch.

`jax_enable_x64` is process-global, so the whole table runs once in a child process (this file
run as a script, with x64 on and torch's default dtype float64, so torch's scalar state such as
`step` and `eta` is float64 as well). Each case compares every parameter after every step, and
every float state tensor at the end, with torch at rtol 1e-10 (atol 1e-13 for entries that pass
through zero), and checks that jtorch's state arrays are float64. Float32 would miss by ~1e-7:
lr 0.8 stored as float32 is 0.800000011920929. The parent test reads one verdict per case.

Facade cases train a float64 5→16→3 tanh MLP (`model.double()`) inside `jtorch.jit`; pure cases
run the optax form on a float64 pytree with random gradients; LBFGS runs `step(closure)` compiled
and eagerly on a model cast by `model.double()` after the optimizer was built.
"""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

RTOL, ATOL = 1e-10, 1e-13
STEPS = 8

# (optimizer, kwargs, scheduler or None): the facade inside jtorch.jit on a float64 MLP
FACADE = [
    ("SGD", dict(lr=0.8, momentum=0.9), ("ExponentialLR", dict(gamma=0.9))),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), None),
    ("ASGD", dict(lr=0.05, lambd=1e-2, alpha=0.6, t0=3, weight_decay=0.01), None),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1), None),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1), None),
    ("Adam", dict(lr=1e-2, amsgrad=True, weight_decay=0.1), None),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1), ("CosineAnnealingLR", dict(T_max=5, eta_min=1e-3))),
    ("Adamax", dict(lr=1e-2, weight_decay=0.1), None),
    ("SparseAdam", dict(lr=1e-2), None),
    ("RAdam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True), None),
    ("NAdam", dict(lr=1e-2, weight_decay=0.1), None),
    ("RMSprop", dict(lr=1e-2, momentum=0.9, centered=True, weight_decay=0.1), None),
    ("Rprop", dict(lr=1e-2), None),
]

# (optimizer, kwargs, pure schedule): the optax form on a float64 pytree, lr an optax schedule
PURE = [
    ("SGD", dict(lr=0.8, momentum=0.5), ("exponential", dict(gamma=0.9))),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99)), ("one_cycle", dict(total_steps=STEPS))),
]

LBFGS = [("strong_wolfe", "jit"), (None, "eager")]


def _facade_id(case):
    name, kwargs, sched = case
    text = name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())
    return text + (f"-{sched[0]}" if sched else "")


def _pure_id(case):
    name, kwargs, sched = case
    return "pure-" + name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items()) + "-" + sched[0]


CASE_IDS = (
    [_facade_id(c) for c in FACADE]
    + [_pure_id(c) for c in PURE]
    + [f"LBFGS-{fn}-{mode}" for fn, mode in LBFGS]
)


# ---------------------------------------------------------------------- the child process


def _close(ours, theirs, what):
    import numpy as np

    ours = np.asarray(ours)
    assert ours.dtype == np.float64, f"{what}: dtype {ours.dtype}, expected float64"
    np.testing.assert_allclose(ours, theirs.detach().numpy(), RTOL, ATOL, err_msg=what)


def _mlp_pair():
    import numpy as np
    import torch

    import jtorch
    from jtorch import nn

    jtorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    ref = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    ref.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()})
    return model, ref


def _assert_states(optimizer, ref_opt):
    """Every float state entry equals torch's and is float64 (both state_dicts, parameter 0..)."""
    ours, theirs = optimizer.state_dict()["state"], ref_opt.state_dict()["state"]
    assert sorted(ours) == sorted(theirs), f"state indices {sorted(ours)} vs {sorted(theirs)}"
    for index, entry in theirs.items():
        for key, value in entry.items():
            if hasattr(value, "is_floating_point") and value.is_floating_point() and key != "step":
                _close(ours[index][key], value, f"state {index} {key!r}")


def _run_facade(name, kwargs, sched):
    import jax.numpy as jnp
    import numpy as np
    import torch

    import jtorch
    from jtorch import optim

    model, ref = _mlp_pair()
    optimizer = getattr(optim, name)(model.parameters(), **kwargs)
    ref_opt = getattr(torch.optim, name)(ref.parameters(), **kwargs)
    schedulers = []
    if sched:
        sched_name, sched_kwargs = sched
        schedulers = [
            getattr(optim.lr_scheduler, sched_name)(optimizer, **sched_kwargs),
            getattr(torch.optim.lr_scheduler, sched_name)(ref_opt, **sched_kwargs),
        ]

    @jtorch.jit
    def train_step(model, optimizer, x, y):
        loss, grads = jtorch.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        optimizer.step(grads)
        return loss

    rng = np.random.default_rng(0)
    for step in range(STEPS):
        x, y = rng.standard_normal((8, 5)), rng.standard_normal((8, 3))
        loss = train_step(model, optimizer, jnp.asarray(x), jnp.asarray(y))
        ref_opt.zero_grad()
        ref_loss = torch.mean((ref(torch.tensor(x)) - torch.tensor(y)) ** 2)
        ref_loss.backward()
        if name == "SparseAdam":
            for p in ref.parameters():
                p.grad = p.grad.to_sparse()
        ref_opt.step()
        _close(loss, ref_loss, f"loss at step {step}")
        expected = ref.state_dict()
        for key, value in model.state_dict().items():
            _close(value, expected[key], f"{key} after step {step}")
        for scheduler in schedulers:
            scheduler.step()
    _assert_states(optimizer, ref_opt)


def _pure_schedule(kind, lr, kwargs):
    from jtorch.optim import lr_scheduler

    if kind == "exponential":
        return lr_scheduler.exponential_lr_schedule(lr, **kwargs), ("ExponentialLR", kwargs)
    # torch's OneCycleLR also cycles Adam's betas unless told not to; the pure schedule is lr only
    torch_kwargs = dict(max_lr=lr, cycle_momentum=False, **kwargs)
    return lr_scheduler.one_cycle_lr_schedule(lr, **kwargs), ("OneCycleLR", torch_kwargs)


def _run_pure(name, kwargs, sched):
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    import torch

    from jtorch import optim

    rng = np.random.default_rng(1)
    init = {"w": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    grads = [jax.tree.map(lambda v: rng.standard_normal(v.shape), init) for _ in range(STEPS)]
    ref = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
    ref_opt = getattr(torch.optim, name)(list(ref.values()), **kwargs)
    schedule, (torch_sched, torch_kwargs) = _pure_schedule(sched[0], kwargs["lr"], sched[1])
    scheduler = getattr(torch.optim.lr_scheduler, torch_sched)(ref_opt, **torch_kwargs)
    tx = getattr(optim, name.lower())(**{**kwargs, "lr": schedule})
    params = jax.tree.map(jnp.asarray, init)
    state = tx.init(params)
    update = jax.jit(tx.update)
    for step, g in enumerate(grads):
        updates, state = update(jax.tree.map(jnp.asarray, g), state, params)
        params = optax.apply_updates(params, updates)
        for key, p in ref.items():
            p.grad = torch.tensor(g[key])
        ref_opt.step()
        scheduler.step()
        for key, p in ref.items():
            _close(params[key], p, f"{key} after step {step}")


def _run_lbfgs(line_search_fn, mode):
    import jax.numpy as jnp
    import numpy as np
    import torch

    import jtorch
    from jtorch import nn, optim

    jtorch.manual_seed(0)
    model = nn.Linear(6, 2)
    kwargs = dict(lr=0.5, max_iter=4, history_size=3, line_search_fn=line_search_fn)
    optimizer = optim.LBFGS(model.parameters(), **kwargs)
    model.double()  # after the optimizer, as torch allows: its state follows the parameters
    ref = torch.nn.Linear(6, 2)
    ref.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()})
    ref_opt = torch.optim.LBFGS(ref.parameters(), **kwargs)

    def quartic(out, y):
        return ((out - y) ** 2).mean() + 0.1 * (out**4).mean()

    @jtorch.jit
    def train_step(model, optimizer, x, y):
        return optimizer.step(lambda m: quartic(m(x), y), model)

    rng = np.random.default_rng(0)
    for step in range(4):
        x, y = rng.standard_normal((16, 6)), rng.standard_normal((16, 2))
        xj, yj = jnp.asarray(x), jnp.asarray(y)
        if mode == "jit":
            loss = train_step(model, optimizer, xj, yj)
        else:
            loss = optimizer.step(lambda xj=xj, yj=yj: quartic(model(xj), yj))

        def closure(x=x, y=y):
            ref_opt.zero_grad()
            loss = quartic(ref(torch.tensor(x)), torch.tensor(y))
            loss.backward()
            return loss

        _close(loss, ref_opt.step(closure), f"loss at step {step}")
        expected = ref.state_dict()
        for key, value in model.state_dict().items():
            _close(value, expected[key], f"{key} after step {step}")
    state = ref_opt.state[next(iter(ref.parameters()))]
    ours = optimizer._lbfgs_state
    assert (int(ours.n_iter), int(ours.func_evals)) == (state["n_iter"], state["func_evals"])
    _close(ours.d, state["d"], "LBFGS direction d")


def _main() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    import torch

    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    runs = (
        [lambda c=c: _run_facade(*c) for c in FACADE]
        + [lambda c=c: _run_pure(*c) for c in PURE]
        + [lambda c=c: _run_lbfgs(*c) for c in LBFGS]
    )
    verdicts = {}
    for case_id, run in zip(CASE_IDS, runs, strict=True):
        try:
            run()
            verdicts[case_id] = "ok"
        except Exception as error:  # reported per case by the parent test
            verdicts[case_id] = f"{type(error).__name__}: {error}"
    print(json.dumps(verdicts))


# ---------------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def verdicts():
    """Run the whole table once in a float64 child process; {case id: 'ok' or the failure}."""
    env = {**os.environ, "JAX_ENABLE_X64": "1", "JAX_PLATFORMS": "cpu"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    done = subprocess.run(
        [sys.executable, __file__], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_matches_float64_torch(verdicts, case_id):
    """Parameters (every step), losses and state at rtol 1e-10 against float64 torch."""
    assert verdicts[case_id] == "ok", verdicts[case_id]


if __name__ == "__main__":
    _main()
