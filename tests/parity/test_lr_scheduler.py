"""Parity of jtorch.optim.lr_scheduler with torch.optim.lr_scheduler.

Each scheduler runs side by side with torch's on an optimizer with two param groups for 40
epochs; the lrs (and momentum/betas where cycled) must be equal to float64 rounding
(rel 1e-12). A scheduler driving a jtorch.jit-compiled SGD step must give torch's trajectory
(float32, rtol 2e-5).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch  # noqa: E402
from jtorch import nn, optim  # noqa: E402
from jtorch.optim import lr_scheduler as jls  # noqa: E402

tls = torch.optim.lr_scheduler
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")
EPOCHS = 40


def _optimizers(kind="SGD"):
    """A jtorch and a torch optimizer with two param groups (lrs 0.1 and 0.05)."""
    j_params = [nn.Parameter(jnp.zeros(2)), nn.Parameter(jnp.zeros(3))]
    t_params = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    kwargs = dict(momentum=0.9) if kind == "SGD" else {}

    def groups(ps):
        return [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.05}]

    return (
        getattr(optim, kind)(groups(j_params), lr=0.1, **kwargs),
        getattr(torch.optim, kind)(groups(t_params), lr=0.1, **kwargs),
    )


def _lambda(epoch):
    return 0.95**epoch


def _mult(epoch):
    return 0.9 if epoch % 3 else 1.05


SIMPLE = [
    ("LambdaLR", dict(lr_lambda=_lambda)),
    ("LambdaLR", dict(lr_lambda=[_lambda, lambda e: 1 / (e + 1)])),
    ("MultiplicativeLR", dict(lr_lambda=_mult)),
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[5, 12, 12, 30], gamma=0.3)),
    ("ConstantLR", dict(factor=0.25, total_iters=9)),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.9, total_iters=17)),
    ("ExponentialLR", dict(gamma=0.93)),
    ("PolynomialLR", dict(total_iters=25, power=2.0)),
    ("CosineAnnealingLR", dict(T_max=11, eta_min=1e-3)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5, T_mult=2, eta_min=1e-4)),
    ("CosineAnnealingWarmRestarts", dict(T_0=7)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=[0.2, 0.1], step_size_up=4, step_size_down=6)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.2, step_size_up=3, mode="triangular2")),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.2, step_size_up=5, mode="exp_range", gamma=0.97)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.2, scale_fn=lambda x: 0.5**x, cycle_momentum=False)),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=EPOCHS + 1)),
    (
        "OneCycleLR",
        dict(
            max_lr=[0.3, 0.2],
            epochs=7,
            steps_per_epoch=6,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
        ),
    ),
]


def _assert_groups(j_opt, t_opt, keys=("lr",)):
    for jg, tg in zip(j_opt.param_groups, t_opt.param_groups, strict=True):
        for key in keys:
            if key in tg:
                np.testing.assert_allclose(np.asarray(jg[key]), np.asarray(tg[key]), rtol=1e-12)


@pytest.mark.parametrize("name,kwargs", SIMPLE, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SIMPLE)])
def test_lr_sequence_matches_torch(name, kwargs):
    j_opt, t_opt = _optimizers()
    j_sched = getattr(jls, name)(j_opt, **kwargs)
    t_sched = getattr(tls, name)(t_opt, **kwargs)
    keys = ("lr", "momentum", "initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum")
    for _ in range(EPOCHS):
        assert j_sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-12)
        _assert_groups(j_opt, t_opt, keys)
        t_opt.step()
        j_sched.step()
        t_sched.step()
    assert j_sched.last_epoch == t_sched.last_epoch
    assert j_sched.base_lrs == pytest.approx(t_sched.base_lrs, rel=1e-12)


@pytest.mark.parametrize("name", ["CyclicLR", "OneCycleLR"])
def test_cycle_momentum_edits_betas(name):
    j_opt, t_opt = _optimizers("NAdam")
    kwargs = (
        dict(base_lr=0.01, max_lr=0.1, step_size_up=4)
        if name == "CyclicLR"
        else dict(max_lr=0.1, total_steps=EPOCHS + 1)
    )
    j_sched = getattr(jls, name)(j_opt, **kwargs)
    t_sched = getattr(tls, name)(t_opt, **kwargs)
    for _ in range(EPOCHS):
        _assert_groups(j_opt, t_opt, ("lr",))
        assert j_opt.param_groups[0]["betas"] == pytest.approx(t_opt.param_groups[0]["betas"])
        j_sched.step()
        t_sched.step()


COMPOSITES = {
    "SequentialLR": lambda m, o: m.SequentialLR(
        o,
        [
            m.LinearLR(o, start_factor=0.2, total_iters=5),
            m.ExponentialLR(o, gamma=0.9),
            m.CosineAnnealingLR(o, T_max=8),
        ],
        milestones=[6, 20],
    ),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(
        [
            m.ConstantLR(o, factor=0.5, total_iters=4),
            m.ExponentialLR(o, gamma=0.95),
            m.StepLR(o, step_size=9, gamma=0.5),
        ]
    ),
}


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composite_schedulers_match_torch(name):
    j_opt, t_opt = _optimizers()
    j_sched = COMPOSITES[name](jls, j_opt)
    t_sched = COMPOSITES[name](tls, t_opt)
    for _ in range(EPOCHS):
        assert j_sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-12)
        _assert_groups(j_opt, t_opt)
        j_sched.step()
        t_sched.step()


PLATEAU = [
    dict(),
    dict(mode="max", factor=0.5, patience=2, threshold=0.05, cooldown=2),
    dict(mode="min", threshold_mode="abs", patience=1, threshold=0.01, min_lr=[0.01, 0.02]),
]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=[str(k) for k in PLATEAU])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    j_opt, t_opt = _optimizers()
    kwargs = dict(kwargs)
    kwargs.setdefault("patience", 3)
    j_sched = jls.ReduceLROnPlateau(j_opt, **kwargs)
    t_sched = tls.ReduceLROnPlateau(t_opt, **kwargs)
    rng = np.random.default_rng(0)
    metrics = np.abs(np.cumsum(rng.standard_normal(EPOCHS))) + 1.0
    for metric in metrics:
        j_sched.step(jnp.float32(metric))
        t_sched.step(float(np.float32(metric)))
        assert j_sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-12)
        assert j_sched.num_bad_epochs == t_sched.num_bad_epochs
        assert j_sched.best == t_sched.best


@pytest.mark.parametrize(
    "name,kwargs",
    [SIMPLE[3], SIMPLE[9], SIMPLE[12], SIMPLE[16]],
    ids=["StepLR", "CosineAnnealingLR", "CyclicLR", "OneCycleLR"],
)
def test_state_dict_round_trip(name, kwargs):
    j_opt, t_opt = _optimizers()
    j_sched = getattr(jls, name)(j_opt, **kwargs)
    t_sched = getattr(tls, name)(t_opt, **kwargs)
    for _ in range(13):
        j_sched.step()
        t_sched.step()
    saved = j_sched.state_dict()
    expected = t_sched.state_dict()
    assert set(saved) - {"_is_initial"} == set(expected) - {
        "_get_lr_called_within_step",
        "_is_initial",
    }
    j_opt2, _ = _optimizers()
    resumed = getattr(jls, name)(j_opt2, **kwargs)
    resumed.load_state_dict(saved)
    for group, old in zip(j_opt2.param_groups, j_opt.param_groups):
        group["lr"] = old["lr"]
    for _ in range(10):
        resumed.step()
        t_sched.step()
        assert resumed.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-12)


def test_plateau_state_dict_round_trip():
    j_opt, _ = _optimizers()
    sched = jls.ReduceLROnPlateau(j_opt, mode="max", patience=1)
    for metric in [1.0, 0.5, 0.4]:
        sched.step(metric)
    other = jls.ReduceLROnPlateau(_optimizers()[0])
    other.load_state_dict(sched.state_dict())
    assert (other.mode, other.best, other.num_bad_epochs, other.mode_worse) == (
        "max",
        1.0,
        sched.num_bad_epochs,
        -math.inf,
    )


def test_epoch_argument_warns_and_uses_closed_form():
    j_opt, t_opt = _optimizers()
    j_sched = jls.StepLR(j_opt, step_size=3, gamma=0.5)
    t_sched = tls.StepLR(t_opt, step_size=3, gamma=0.5)
    with pytest.warns(UserWarning):
        j_sched.step(7)
    with pytest.warns(UserWarning):
        t_sched.step(7)
    assert j_sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-12)


INVALID = [
    ("ConstantLR", dict(factor=1.5)),
    ("LinearLR", dict(start_factor=0.0)),
    ("LinearLR", dict(end_factor=1.5)),
    ("CosineAnnealingWarmRestarts", dict(T_0=0)),
    ("CosineAnnealingWarmRestarts", dict(T_0=2, T_mult=0)),
    ("CyclicLR", dict(base_lr=0.1, max_lr=[0.1], mode="bad")),
    ("CyclicLR", dict(base_lr=0.1, max_lr=0.2, mode="bad")),
    ("OneCycleLR", dict(max_lr=0.1)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, pct_start=1.5)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, anneal_strategy="exp")),
    ("ReduceLROnPlateau", dict(factor=1.0)),
    ("ReduceLROnPlateau", dict(mode="avg")),
    ("ReduceLROnPlateau", dict(threshold_mode="pct")),
]


@pytest.mark.parametrize(
    "name,kwargs", INVALID, ids=[f"{n}-{i}" for i, (n, _) in enumerate(INVALID)]
)
def test_invalid_arguments_raise_like_torch(name, kwargs):
    j_opt, t_opt = _optimizers()
    with pytest.raises(ValueError) as expected:
        getattr(tls, name)(t_opt, **kwargs)
    with pytest.raises(ValueError) as got:
        getattr(jls, name)(j_opt, **kwargs)
    assert str(got.value) == str(expected.value)


PURE = [
    ("StepLR", dict(step_size=7, gamma=0.5), lambda: jls.step_lr_schedule(0.1, 7, 0.5)),
    (
        "MultiStepLR",
        dict(milestones=[5, 12, 30], gamma=0.3),
        lambda: jls.multistep_lr_schedule(0.1, [5, 12, 30], 0.3),
    ),
    (
        "ConstantLR",
        dict(factor=0.25, total_iters=9),
        lambda: jls.constant_lr_schedule(0.1, 0.25, 9),
    ),
    (
        "LinearLR",
        dict(start_factor=0.1, end_factor=0.9, total_iters=17),
        lambda: jls.linear_lr_schedule(0.1, 0.1, 0.9, 17),
    ),
    ("ExponentialLR", dict(gamma=0.93), lambda: jls.exponential_lr_schedule(0.1, 0.93)),
    (
        "PolynomialLR",
        dict(total_iters=25, power=2.0),
        lambda: jls.polynomial_lr_schedule(0.1, 25, 2.0),
    ),
    (
        "CosineAnnealingLR",
        dict(T_max=EPOCHS),
        lambda: jls.cosine_annealing_lr_schedule(0.1, EPOCHS),
    ),
    (
        "CosineAnnealingWarmRestarts",
        dict(T_0=5, T_mult=2),
        lambda: jls.cosine_annealing_warm_restarts_schedule(0.1, 5, 2),
    ),
    (
        "CosineAnnealingWarmRestarts",
        dict(T_0=6),
        lambda: jls.cosine_annealing_warm_restarts_schedule(0.1, 6),
    ),
    (
        "OneCycleLR",
        dict(max_lr=0.1, total_steps=EPOCHS + 1, cycle_momentum=False),
        lambda: jls.one_cycle_lr_schedule(0.1, EPOCHS + 1),
    ),
    (
        "OneCycleLR",
        dict(
            max_lr=0.1,
            total_steps=EPOCHS + 1,
            three_phase=True,
            anneal_strategy="linear",
            cycle_momentum=False,
        ),
        lambda: jls.one_cycle_lr_schedule(
            0.1, EPOCHS + 1, anneal_strategy="linear", three_phase=True
        ),
    ),
]


@pytest.mark.parametrize("name,kwargs,make", PURE, ids=[f"{p[0]}-{i}" for i, p in enumerate(PURE)])
def test_pure_schedule_matches_torch(name, kwargs, make):
    t_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    t_sched = getattr(tls, name)(t_opt, **kwargs)
    expected = []
    for _ in range(EPOCHS):
        expected.append(t_sched.get_last_lr()[0])
        t_opt.step()
        t_sched.step()
    got = jax.vmap(make())(jnp.arange(EPOCHS))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=2e-5, atol=1e-9)


def test_scheduler_drives_jitted_sgd_like_torch():
    jtorch.manual_seed(0)
    model = nn.Linear(4, 2)
    ref = torch.nn.Linear(4, 2)
    ref.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()})
    j_opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    t_opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    j_sched = jls.OneCycleLR(j_opt, max_lr=0.2, total_steps=31)
    t_sched = tls.OneCycleLR(t_opt, max_lr=0.2, total_steps=31)

    @jtorch.jit
    def train_step(model, optimizer, x, y):
        loss, grads = jtorch.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        optimizer.step(grads)
        return loss

    rng = np.random.default_rng(0)
    for _ in range(30):
        x, y = rng.standard_normal((8, 4), np.float32), rng.standard_normal((8, 2), np.float32)
        train_step(model, j_opt, jnp.asarray(x), jnp.asarray(y))
        t_opt.zero_grad()
        torch.mean((ref(torch.tensor(x)) - torch.tensor(y)) ** 2).backward()
        t_opt.step()
        j_sched.step()
        t_sched.step()
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(
            np.asarray(value), ref.state_dict()[name].numpy(), rtol=2e-5, atol=1e-6
        )
    assert train_step._entries and len(train_step._compiled_by_graphdef) == 1
