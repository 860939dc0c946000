"""jtorch.func.functional_call against torch.func.functional_call: outputs and gradients keyed by
torch names (float32, rtol=1e-4, atol=1e-5), under jax.grad, jax.jit and jax.vmap; purity."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
import jtorch.nn.functional as F
from jtorch import nn
from jtorch.func import functional_call

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-4, 1e-5


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class TorchMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 8)
        self.fc2 = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class LSTMHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(4, 5, num_layers=2, batch_first=True)

    def forward(self, x):
        return self.rnn(x)[0][:, -1]


class TorchLSTMHead(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(4, 5, num_layers=2, batch_first=True)

    def forward(self, x):
        return self.rnn(x)[0][:, -1]


def _pair(kind):
    torch.manual_seed(0)
    t, j = (TorchMLP(), MLP()) if kind == "mlp" else (TorchLSTMHead(), LSTMHead())
    j.load_state_dict(t.state_dict())
    return t, j


def _input(kind):
    shape = (6, 4) if kind == "mlp" else (3, 5, 4)
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("kind", ["mlp", "lstm"])
def test_grads_keyed_by_name_match_torch(kind):
    t, j = _pair(kind)
    x = _input(kind)
    tparams = {k: v.detach().clone().requires_grad_() for k, v in t.named_parameters()}
    tout = torch.func.functional_call(t, tparams, (torch.tensor(x),))
    (tout**2).sum().backward()

    params = {k: p.value for k, p in j.named_parameters()}

    def loss(params, x):
        return (functional_call(j, params, (x,)) ** 2).sum()

    out = functional_call(j, params, jnp.asarray(x))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=RTOL, atol=ATOL)
    grads = jax.jit(jax.grad(loss))(params, jnp.asarray(x))
    assert set(grads) == set(tparams)  # a dict pytree: jax returns keys sorted
    for k, g in grads.items():
        np.testing.assert_allclose(g, tparams[k].grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=k)


def test_is_pure_and_partial_dicts_keep_own_values():
    t, j = _pair("mlp")
    x = jnp.asarray(_input("mlp"))
    before = {k: np.asarray(v) for k, v in j.state_dict().items()}
    ref = j(x)
    zeros = {"fc2.weight": jnp.zeros((3, 8))}
    out = functional_call(j, zeros, (x,))
    # only fc2.weight replaced: the output is fc2's bias on every row
    np.testing.assert_allclose(out, np.broadcast_to(before["fc2.bias"], out.shape), rtol=RTOL)
    jax.grad(lambda p: functional_call(j, p, (x,)).sum())(zeros)
    jax.jit(lambda p: functional_call(j, p, (x,)))(zeros)
    for k, v in j.state_dict().items():
        np.testing.assert_array_equal(np.asarray(v), before[k], err_msg=k)
    np.testing.assert_array_equal(j(x), ref)
    # tuple of dicts and kwargs
    out2 = functional_call(j, ({"fc2.weight": jnp.zeros((3, 8))}, {}), args=(), kwargs={"x": x})
    np.testing.assert_array_equal(out2, out)


def test_vmap_over_stacked_parameters_matches_torch():
    torch.manual_seed(0)
    tmodels = [TorchMLP() for _ in range(3)]
    tstacked, _ = torch.func.stack_module_state(tmodels)
    x = torch.tensor(_input("mlp"))
    tout = torch.vmap(lambda p: torch.func.functional_call(tmodels[0], p, (x,)))(tstacked)
    j = MLP()
    stacked = {k: jnp.asarray(v.detach().numpy()) for k, v in tstacked.items()}
    out = jax.vmap(lambda p: functional_call(j, p, (jnp.asarray(x.numpy()),)))(stacked)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=RTOL, atol=ATOL)


def test_strict_and_tied_weights():
    j = MLP()
    x = jnp.ones((2, 4))
    with pytest.raises(RuntimeError, match="Missing key"):
        functional_call(j, {"fc1.weight": jnp.zeros((8, 4))}, (x,), strict=True)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        params = {k: v for k, v in j.state_dict().items()}
        functional_call(j, {**params, "nope": x}, (x,), strict=True)

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 3, bias=False)
            self.b = nn.Linear(3, 3, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    m = Tied()
    eye, x3 = jnp.eye(3), jnp.arange(3.0)
    np.testing.assert_allclose(functional_call(m, {"a.weight": 2 * eye}, (x3,)), 4 * x3)
    untied = functional_call(m, {"a.weight": 2 * eye}, (x3,), tie_weights=False)
    w = np.asarray(m.a.weight.value)
    np.testing.assert_allclose(untied, w @ (2 * x3), rtol=RTOL, atol=ATOL)
    with pytest.raises(ValueError, match="tied"):
        functional_call(m, {"a.weight": eye, "b.weight": 2 * eye}, (x3,))


def test_value_and_grad_of_module_agrees():
    """functional_call gradients equal jtorch.value_and_grad's on the module itself."""
    _, j = _pair("mlp")
    x = jnp.asarray(_input("mlp"))
    grads = jtorch.jit(jtorch.grad(lambda m: (m(x) ** 2).sum()))(j)
    params = {k: p.value for k, p in j.named_parameters()}
    fgrads = jax.jit(jax.grad(lambda p: (functional_call(j, p, (x,)) ** 2).sum()))(params)
    for k in grads:
        np.testing.assert_allclose(fgrads[k], grads[k], rtol=RTOL, atol=ATOL)
