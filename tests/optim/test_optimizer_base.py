"""The optimizer facade base: state views, state_dict checks, recompilation rules, step errors.

Values are compared with the same optimizer run eagerly (exact) or with hand-built expectations;
parity with torch lives in tests/parity/test_optim_a.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from jtorch import nn, optim


def _model():
    jtorch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))


def _grads(model, seed=0):
    rng = np.random.default_rng(seed)
    return [jnp.asarray(rng.standard_normal(p.shape), jnp.float32) for p in model.parameters()]


def _counting_step():
    traces = []

    @jtorch.jit
    def step(optimizer, grads):
        traces.append(1)
        optimizer.step(grads)

    return step, traces


def test_state_view_is_keyed_by_parameter_and_matches_state_dict():
    model = _model()
    opt = optim.Adam(model.parameters(), lr=0.1)
    assert len(opt.state) == 0
    opt.step(_grads(model))
    params = list(model.parameters())
    assert len(opt.state) == 4 and all(p in opt.state for p in params)
    assert list(opt.state) == params
    assert sorted(opt.state[params[0]]) == ["exp_avg", "exp_avg_sq", "step"]
    np.testing.assert_array_equal(
        opt.state[params[2]]["exp_avg"], opt.state_dict()["state"][2]["exp_avg"]
    )
    assert opt.state[params[0]]["step"].dtype == jnp.float32
    with pytest.raises(KeyError):
        opt.state[nn.Parameter(jnp.zeros(2))]


def test_state_dict_before_any_step_follows_torch():
    model = _model()
    assert optim.Adam(model.parameters()).state_dict()["state"] == {}
    assert optim.SGD(model.parameters(), momentum=0.9).state_dict()["state"] == {}
    eager = optim.Adagrad(model.parameters(), initial_accumulator_value=0.5).state_dict()
    assert sorted(eager["state"]) == [0, 1, 2, 3]
    assert float(eager["state"][0]["step"]) == 0.0
    np.testing.assert_array_equal(eager["state"][1]["sum"], np.full(4, 0.5, np.float32))


def test_param_group_indices_and_defaults_follow_torch():
    model = _model()
    opt = optim.SGD(
        [{"params": model[0].parameters()}, {"params": model[1].parameters(), "lr": 0.5}], lr=0.1
    )
    groups = opt.state_dict()["param_groups"]
    assert [g["params"] for g in groups] == [[0, 1], [2, 3]]
    assert [g["lr"] for g in groups] == [0.1, 0.5]
    assert {"foreach", "fused", "differentiable"} <= set(opt.defaults)
    assert "Parameter Group 1" in repr(opt) and "lr: 0.5" in repr(opt)


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda sd: sd["param_groups"].pop(), "has 1 parameter groups, but the optimizer has 2"),
        (lambda sd: sd["param_groups"][1]["params"].pop(), "group 1 has 1 parameters"),
        (
            lambda sd: sd["state"][2].__setitem__("exp_avg", np.zeros((4, 4), np.float32)),
            r"'exp_avg' of parameter 2 \(group 1\) has shape \(4, 4\), expected \(2, 4\)",
        ),
    ],
    ids=["group count", "parameter count", "shape"],
)
def test_load_state_dict_errors_name_the_group_or_parameter(mutate, message):
    model = _model()
    groups = [{"params": model[0].parameters()}, {"params": model[1].parameters()}]
    opt = optim.Adam(groups, lr=0.1)
    opt.step(_grads(model))
    before = opt.state_dict()
    bad = opt.state_dict()
    mutate(bad)
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(bad)
    after = opt.state_dict()  # a failed load changes nothing
    for index, entry in before["state"].items():
        for key in entry:
            np.testing.assert_array_equal(after["state"][index][key], entry[key])


def test_loaded_state_continues_exactly_and_without_retracing():
    model, copy = _model(), _model()
    opt = optim.Adam(model.parameters(), lr=0.05, amsgrad=True)
    step, traces = _counting_step()
    for seed in range(3):
        step(opt, _grads(model, seed))
    opt2 = optim.Adam(copy.parameters(), lr=1.0, amsgrad=True)
    for p, q in zip(model.parameters(), copy.parameters()):
        q.value = p.value
    opt2.load_state_dict(opt.state_dict())
    assert opt2.param_groups[0]["lr"] == 0.05
    step(opt, _grads(model, 9))
    step(opt2, _grads(copy, 9))
    for p, q in zip(model.parameters(), copy.parameters()):
        np.testing.assert_array_equal(p.value, q.value)
    assert len(traces) == 1


def test_optimizers_with_different_static_options_do_not_share_compiled_code():
    results = []
    step, traces = _counting_step()
    for nesterov in (False, True):
        model = _model()
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=nesterov)
        eager_model = _model()
        eager = optim.SGD(eager_model.parameters(), lr=0.1, momentum=0.9, nesterov=nesterov)
        for seed in range(3):
            step(opt, _grads(model, seed))
            eager.step(_grads(eager_model, seed))
        for p, q in zip(model.parameters(), eager_model.parameters()):
            np.testing.assert_allclose(p.value, q.value, rtol=1e-5)  # fused vs eager rounding
        results.append(np.asarray(model[0].weight.value))
    assert not np.allclose(results[0], results[1])
    assert len(traces) == 2


def test_static_option_edit_retraces_once_and_converts_state():
    """Switching on amsgrad mid-run (torch would fail) starts max_exp_avg_sq from zeros."""
    model = _model()
    opt = optim.Adam(model.parameters(), lr=0.1)
    step, traces = _counting_step()
    step(opt, _grads(model, 0))
    exp_avg = np.asarray(opt.state_dict()["state"][0]["exp_avg"])
    opt.param_groups[0]["amsgrad"] = True
    step(opt, _grads(model, 1))
    step(opt, _grads(model, 2))
    assert len(traces) == 2
    state = opt.state_dict()["state"][0]
    assert float(state["step"]) == 3.0 and "max_exp_avg_sq" in state
    assert not np.allclose(state["exp_avg"], exp_avg)


def test_add_param_group_after_a_compiled_step():
    model = _model()
    opt = optim.SGD(model[0].parameters(), lr=0.1)
    step, _ = _counting_step()
    step(opt, _grads(model)[:2])
    before = np.asarray(model[1].weight.value)
    opt.add_param_group({"params": model[1].parameters(), "lr": 1.0})
    grads = _grads(model, 1)
    step(opt, grads)
    np.testing.assert_allclose(model[1].weight.value, before - grads[2], rtol=1e-6)


def test_step_errors_and_zero_grad():
    model = _model()
    opt = optim.Adam(model.parameters())
    opt.zero_grad()
    with pytest.raises(TypeError, match="needs the gradients"):
        opt.step()
    with pytest.raises(ValueError, match="got 1 gradients for 4 parameters"):
        opt.step([jnp.zeros((4, 3))])
    with pytest.raises(ValueError, match="gradient of shape"):
        opt.step([jnp.zeros((3, 4)), None, None, None])
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.Adam(model.parameters(), lr=-1)
    with pytest.raises(TypeError, match="single Parameter"):
        optim.SGD(model[0].weight)


def test_step_with_grads_from_value_and_grad_skips_frozen_parameters():
    model = _model()
    model[0].bias.requires_grad_(False)
    opt = optim.SGD(model.parameters(), lr=0.1)
    frozen = np.asarray(model[0].bias.value)
    x = jnp.ones((5, 3))
    grads = jtorch.grad(lambda m: jnp.sum(m(x) ** 2))(model)
    opt.step(grads)
    np.testing.assert_array_equal(model[0].bias.value, frozen)
    assert model[0].bias not in opt.state  # no momentum: torch keeps no state either


@pytest.mark.parametrize("weight", [0.1, 0.5, 0.7], ids=str)
def test_moment_average_is_torch_lerp(weight):
    """Adam, Adamax, RAdam, NAdam and centered RMSprop average with torch.lerp (whose formula
    switches at weight 0.5); the weight arrives as a Python float or traced. Tolerance: 1 float32
    ulp-scale (rtol 1e-6): torch's vectorised kernel may fuse multiply-adds."""
    from jtorch.optim._common import _lerp_moment

    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    m, g = (rng.standard_normal(1000).astype(np.float32) for _ in range(2))
    want = torch.from_numpy(m.copy()).lerp_(torch.from_numpy(g), weight).numpy()
    beta = np.float32(1 - weight)
    eager = _lerp_moment(jnp.asarray(m), jnp.asarray(g), 1 - weight)
    traced = jax.jit(lambda b: _lerp_moment(jnp.asarray(m), jnp.asarray(g), b))(beta)
    np.testing.assert_allclose(eager, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(traced, want, rtol=1e-6, atol=1e-7)
