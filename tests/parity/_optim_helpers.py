"""Helpers shared by the optimizer parity tests (test_optim_a.py, test_optim_b.py).

A small jtorch MLP and a torch copy with the same weights, the random batches both train on, the
compiled jtorch train step, the matching torch step, and the comparisons against torch.
Imported relatively (`from ._optim_helpers import ...`), which works under pytest's importlib mode.
"""

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jtorch
from jtorch import nn, optim

RTOL, ATOL = 2e-5, 1e-6
STEPS = 25


def case_id(case):
    """pytest id of a (name, kwargs) case: `Adam-lr=0.01-amsgrad=True`."""
    return case[0] + "-" + "-".join(f"{k}={v}" for k, v in case[1].items())


def mlp_pair(activation="ReLU"):
    """A jtorch 5→16→3 MLP and a torch copy with the same weights."""
    jtorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), getattr(nn, activation)(), nn.Linear(16, 3))
    ref = torch.nn.Sequential(
        torch.nn.Linear(5, 16), getattr(torch.nn, activation)(), torch.nn.Linear(16, 3)
    )
    ref.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()})
    return model, ref


def batches(n, seed=0):
    """`n` random (x, y) float32 batches of 8 rows for the 5→3 MLP."""
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((8, 5), np.float32), rng.standard_normal((8, 3), np.float32))
        for _ in range(n)
    ]


def assert_params(model, ref, msg="", rtol=RTOL, atol=ATOL):
    """Every jtorch parameter equals torch's within rtol/atol."""
    expected = ref.state_dict()
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(
            np.asarray(value), expected[name].numpy(), rtol, atol, err_msg=f"{name} {msg}"
        )


def make_train_step():
    """A `jtorch.jit` MSE train step and the list it appends to each time it is traced."""
    traces = []

    @jtorch.jit
    def train_step(model, optimizer, x, y):
        traces.append(1)
        loss, grads = jtorch.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        optimizer.step(grads)
        return loss

    return train_step, traces


def torch_step(ref, ref_opt, x, y, sparse_grads=False):
    """torch's MSE train step on numpy (x, y); `sparse_grads` turns the gradients sparse."""
    ref_opt.zero_grad()
    torch.mean((ref(torch.tensor(x)) - torch.tensor(y)) ** 2).backward()
    if sparse_grads:
        for p in ref.parameters():
            p.grad = p.grad.to_sparse()
    ref_opt.step()


def assert_rejects_like_torch(name, kwargs):
    """optim.<name> raises torch's ValueError message for `kwargs`; returns that message."""
    with pytest.raises(ValueError) as expected:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as got:
        getattr(optim, name)([nn.Parameter(jnp.zeros(2))], **kwargs)
    assert str(got.value) == str(expected.value)
    return str(expected.value)
