"""jtorch.jit / grad / value_and_grad: results equal eager computation, compiled code is reused."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from jtorch import nn, optim


def mlp():
    jtorch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2))


def mse(model, x, y):
    return jnp.mean((model(x) - y) ** 2)


def test_grads_are_keyed_by_torch_names_and_equal_jax_grad():
    model = mlp().eval()
    x, y = jtorch.randn(4, 3), jtorch.randn(4, 2)
    loss, grads = jtorch.value_and_grad(mse)(model, x, y)
    assert list(grads) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    params = {k: jnp.asarray(v) for k, v in model.state_dict().items()}

    def pure(p):
        h = jax.nn.relu(x @ p["0.weight"].T + p["0.bias"])
        return jnp.mean((h @ p["3.weight"].T + p["3.bias"] - y) ** 2)

    ref_loss, ref = jax.value_and_grad(pure)(params)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
    for k in grads:
        np.testing.assert_allclose(grads[k], ref[k], rtol=1e-5, atol=1e-7)


def test_grad_with_aux_and_non_module_argument():
    model = mlp().eval()
    x = jtorch.randn(4, 3)

    def f(m, x):
        out = m(x)
        return jnp.sum(out), out

    grads, aux = jtorch.grad(f, has_aux=True)(model, x)
    assert aux.shape == (4, 2) and set(grads) == {"0.weight", "0.bias", "3.weight", "3.bias"}
    gx = jtorch.grad(lambda x, m: jnp.sum(m(x)))(x, model)
    assert gx.shape == (4, 3)


def test_compiled_step_equals_eager_step():
    x, y = jtorch.randn(4, 3), jtorch.randn(4, 2)
    eager_model, jit_model = mlp().eval(), mlp().eval()
    eager_opt = optim.SGD(eager_model.parameters(), lr=0.1, momentum=0.9)
    jit_opt = optim.SGD(jit_model.parameters(), lr=0.1, momentum=0.9)

    def step(model, optimizer, x, y):
        loss, grads = jtorch.value_and_grad(mse)(model, x, y)
        optimizer.step(grads)
        return loss

    compiled = jtorch.jit(step)
    for _ in range(3):
        step(eager_model, eager_opt, x, y)
        compiled(jit_model, jit_opt, x, y)
    for (k, a), b in zip(eager_model.state_dict().items(), jit_model.state_dict().values()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=k)


def test_compiled_code_is_reused_across_calls_and_mode_switches():
    traces = []

    @jtorch.jit
    def forward(model, x):
        traces.append(model.training)
        return model(x)

    model = mlp()
    x = jtorch.randn(2, 3)
    for _ in range(3):
        forward(model, x)
    assert traces == [True]
    model.eval()
    forward(model, x)
    model.train()
    forward(model, x)
    model.eval()
    forward(model, x)
    assert traces == [True, False]  # one trace per mode, reused after switching back


def test_lr_edit_takes_effect_without_retrace():
    traces = []
    model = mlp().eval()
    opt = optim.SGD(model.parameters(), lr=0.0)
    x, y = jtorch.randn(4, 3), jtorch.randn(4, 2)

    @jtorch.jit
    def step(model, optimizer, x, y):
        traces.append(1)
        _, grads = jtorch.value_and_grad(mse)(model, x, y)
        optimizer.step(grads)

    before = np.array(model[0].weight.value)
    step(model, opt, x, y)
    np.testing.assert_array_equal(model[0].weight.value, before)  # lr = 0: no change
    opt.param_groups[0]["lr"] = 0.5
    step(model, opt, x, y)
    assert not np.array_equal(np.asarray(model[0].weight.value), before)
    assert len(traces) == 1


def test_only_changes_to_a_steps_own_objects_make_it_reread_its_structure(monkeypatch):
    """Each compiled entry watches the modules, variables and optimizer node of its graph: an
    unrelated model switching mode leaves it alone; its own submodule, Parameter flag or
    optimizer state changing makes it re-read (and still compute the right thing)."""
    from jtorch import _transforms

    builds = []
    build_entry = _transforms._JitFunction._build_entry

    def counting(self, *args):
        builds.append(1)
        return build_entry(self, *args)

    monkeypatch.setattr(_transforms._JitFunction, "_build_entry", counting)
    model, other = mlp(), mlp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = jtorch.randn(4, 3), jtorch.randn(4, 2)

    @jtorch.jit
    def step(model, optimizer, x, y):
        loss, grads = jtorch.value_and_grad(mse)(model, x, y)
        optimizer.step(grads)
        return loss

    step(model, opt, x, y)
    for _ in range(3):
        other.eval()
        other.train()
        other[0].weight.requires_grad_(False)
        step(model, opt, x, y)
    assert len(builds) == 1
    model[2].eval()  # a submodule of the step's model
    step(model, opt, x, y)
    assert len(builds) == 2
    model[0].bias.requires_grad_(False)  # a Parameter's flag: the gradient must skip it
    bias = np.array(model[0].bias.value)
    step(model, opt, x, y)
    assert len(builds) == 3
    np.testing.assert_array_equal(model[0].bias.value, bias)
    opt.load_state_dict(opt.state_dict())  # new optimizer state variables
    step(model, opt, x, y)
    assert len(builds) == 4


def test_structure_change_inside_jit_is_an_error():
    extra = nn.Linear(1, 1)

    @jtorch.jit
    def bad(model, x):
        model.extra = extra
        return x

    with pytest.raises(RuntimeError, match="changed the structure"):
        bad(mlp(), jtorch.randn(2, 3))


def test_new_parameter_object_is_picked_up():
    model = mlp().eval()
    run = jtorch.jit(lambda m, x: m(x))
    x = jtorch.randn(2, 3)
    run(model, x)
    model[3].weight = nn.Parameter(jnp.zeros((2, 8)))
    model[3].bias = nn.Parameter(jnp.ones(2))
    np.testing.assert_array_equal(run(model, x), np.ones((2, 2)))


def test_python_flags_are_static_arguments():
    traces = []

    @jtorch.jit
    def run(model, x, scale, *, apply_relu=True, mode="sum"):
        traces.append((apply_relu, mode))
        out = model(x) * scale
        out = jax.nn.relu(out) if apply_relu else out
        return jnp.sum(out) if mode == "sum" else jnp.mean(out)

    model = mlp().eval()
    x = jtorch.randn(2, 3)
    a = run(model, x, 2.0, apply_relu=False, mode="mean")
    b = run(model, x, 3.0, apply_relu=False, mode="mean")
    run(model, x, 2.0)
    np.testing.assert_allclose(b, a * 1.5, rtol=1e-6)
    assert traces == [(False, "mean"), (True, "sum")]


def test_donated_step_accepts_variables_sharing_one_array():
    def model_with_shared_arrays():
        jtorch.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2))
        model[2].weight.value = model[0].weight.value  # as load_state_dict may leave them
        model[2].bias.value = model[0].bias.value
        return model

    x, y = jtorch.randn(4, 2), jtorch.randn(4, 2)
    finals, losses = [], []
    for donate in (True, False):
        model = model_with_shared_arrays()
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(model, opt, x, y):
            loss, grads = jtorch.value_and_grad(mse)(model, x, y)
            opt.step(grads)
            return loss

        compiled = jtorch.jit(step, donate=donate)
        losses.append([float(compiled(model, opt, x, y)) for _ in range(3)])
        finals.append(model.state_dict())
    assert losses[0] == losses[1]
    for a, b in zip(finals[0].values(), finals[1].values()):
        np.testing.assert_array_equal(a, b)


def test_arrays_a_step_leaves_alone_keep_their_buffers():
    jtorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    x = jtorch.randn(8, 3)
    before = {k: v.value for k, v in model.named_parameters()}
    forward = jtorch.jit(lambda m, x: m(x))  # not donated
    model.eval()
    forward(model, x)
    for key, param in model.named_parameters():
        assert param.value is before[key], key  # not copied out of the program
    running_mean = model[1].running_mean.value
    model.train()
    forward(model, x)
    assert model[1].running_mean.value is not running_mean  # what changed is stored
    np.testing.assert_allclose(
        model[1].running_mean.value, 0.1 * np.asarray(model[0](x)).mean(0), rtol=1e-5, atol=1e-6
    )
    for key, param in model.named_parameters():
        assert param.value is before[key], key


# ---------------------------------------------------------------- eager calls of built-in layers

# (name, layer, input shape): built-in layers whose eager calls run a cached compiled program
EAGER_CASES = [
    ("LSTM", lambda: nn.LSTM(3, 4, num_layers=2), (5, 2, 3)),
    ("Linear", lambda: nn.Linear(3, 4), (2, 3)),
    ("Conv2d", lambda: nn.Conv2d(2, 3, 3, padding=1), (1, 2, 5, 5)),
    ("BatchNorm1d", lambda: nn.BatchNorm1d(3), (4, 3)),  # train mode: statistics written back
]


class _TraceCounter:
    """Counts JAX traces and XLA compilations (jax.monitoring events) while active."""

    events = []
    _registered = False

    def __enter__(self):
        if not _TraceCounter._registered:
            jax.monitoring.register_event_duration_secs_listener(
                lambda name, *_, **__: _TraceCounter.events.append(name)
            )
            _TraceCounter._registered = True
        self.start = len(_TraceCounter.events)
        return self

    def __exit__(self, *exc):
        self.count = sum(
            name.endswith(("jaxpr_trace_duration", "backend_compile_duration"))
            for name in _TraceCounter.events[self.start :]
        )


def _leaves(out):
    return [np.asarray(a) for a in jax.tree.leaves(out)]


@pytest.mark.parametrize("name,build,shape", EAGER_CASES, ids=[c[0] for c in EAGER_CASES])
def test_eager_layer_call_reuses_its_compiled_program(name, build, shape):
    """Third eager call with the same shapes: no trace, no compilation; outputs and buffers equal
    the plain Python forward (and the jit path) at rtol 1e-6."""
    jtorch.manual_seed(0)
    layer, twin = build(), build()
    twin.load_state_dict(layer.state_dict())
    x = jtorch.randn(*shape)
    for _ in range(2):
        layer(x)
        type(twin).forward(twin, x)
    with _TraceCounter() as counter:
        out = layer(x)
        jax.block_until_ready(out)
    assert counter.count == 0
    expected = type(twin).forward(twin, x)
    for got, want in zip(_leaves(out), _leaves(expected)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    for got, want in zip(_leaves(layer.state_dict()), _leaves(twin.state_dict())):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    jitted = jtorch.jit(lambda m, x: m(x))(layer.eval(), x)
    for got, want in zip(_leaves(jitted), _leaves(type(twin).forward(twin.eval(), x))):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_user_forward_stays_python_while_its_layers_are_compiled():
    """A user forward with control flow on values runs eagerly; its LSTM takes the cached path."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(3, 4)

        def forward(self, x):
            out, _ = self.rnn(x)
            return out if float(out.sum()) > 0 else -out  # needs a concrete value

    jtorch.manual_seed(0)
    net, x = Net(), jtorch.randn(5, 1, 3)
    net(x), net(x)
    with _TraceCounter() as counter:
        out = net(x)
    assert counter.count == 0
    ref, _ = nn.LSTM.forward(net.rnn, x)
    np.testing.assert_allclose(out, ref if float(ref.sum()) > 0 else -ref, rtol=1e-6)


def test_compiled_functions_do_not_keep_models_alive():
    """jtorch.jit's cache holds its models weakly: a model dropped by the user is collected and
    its cache entry (with the arrays it reads) goes with it."""
    import gc
    import weakref

    @jtorch.jit
    def step(model, optimizer, x):
        loss, grads = jtorch.value_and_grad(lambda m: (m(x) ** 2).mean())(model)
        optimizer.step(grads)
        return loss

    x = jnp.ones((2, 3))
    for _ in range(2):
        model = nn.Linear(3, 3)
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        step(model, optimizer, x)
        assert len(step._entries) == 1
        ref = weakref.ref(model)
        del model, optimizer
        gc.collect()
        assert ref() is None, "the compiled function kept the model alive"
        assert len(step._entries) == 0
