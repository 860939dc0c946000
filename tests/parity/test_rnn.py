"""RNN, LSTM, GRU and cells against torch: outputs, final states, and gradients w.r.t. the input,
the initial states and every parameter (float32, rtol=1e-4, atol=1e-5)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from jtorch import nn

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-4, 1e-5
L, N, H_IN, H = 5, 3, 4, 6


def _close(actual, expected, what):
    np.testing.assert_allclose(
        np.asarray(actual), expected.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=what
    )


def _pair(name, kwargs, seed=0):
    torch.manual_seed(seed)
    t = getattr(torch.nn, name)(H_IN, H, **kwargs)
    j = getattr(nn, name)(H_IN, H, **kwargs)
    assert list(j.state_dict()) == list(t.state_dict())
    for key, value in t.state_dict().items():
        assert tuple(j.state_dict()[key].shape) == tuple(value.shape), key
    j.load_state_dict(t.state_dict())
    assert repr(j) == repr(t)
    return t, j


# (module, constructor kwargs, pass an initial state)
RNN_CASES = [
    ("RNN", dict(), False),
    ("RNN", dict(nonlinearity="relu", num_layers=2, batch_first=True), True),
    ("RNN", dict(bidirectional=True, bias=False), True),
    ("LSTM", dict(), True),
    ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True), False),
    ("LSTM", dict(proj_size=2, num_layers=2), True),
    ("LSTM", dict(proj_size=3, bidirectional=True, bias=False), False),
    ("GRU", dict(batch_first=True), False),
    ("GRU", dict(num_layers=2, bidirectional=True, bias=False), True),
]


@pytest.mark.parametrize("name,kwargs,with_state", RNN_CASES, ids=lambda c: str(c))
def test_rnn_matches_torch(name, kwargs, with_state):
    t, j = _pair(name, kwargs)
    lstm = name == "LSTM"
    dirs = 2 if kwargs.get("bidirectional") else 1
    rows = kwargs.get("num_layers", 1) * dirs
    h_out = kwargs.get("proj_size") or H
    gen = np.random.default_rng(1)
    shape = (N, L, H_IN) if kwargs.get("batch_first") else (L, N, H_IN)
    x = gen.standard_normal(shape).astype(np.float32)
    states = []
    if with_state:
        states = [gen.standard_normal((rows, N, h_out)).astype(np.float32)]
        if lstm:
            states.append(gen.standard_normal((rows, N, H)).astype(np.float32))
    out_w = gen.standard_normal(x.shape[:-1] + (dirs * h_out,)).astype(np.float32)

    # torch
    tx = torch.tensor(x, requires_grad=True)
    tstates = [torch.tensor(s, requires_grad=True) for s in states]
    thx = None if not with_state else (tuple(tstates) if lstm else tstates[0])
    tout, th = t(tx, thx)
    tfinal = list(th) if lstm else [th]
    tloss = (tout * torch.tensor(out_w)).sum() + sum((s**2).sum() for s in tfinal)
    tloss.backward()

    # jtorch
    def loss_fn(model, x, states):
        hx = None if not with_state else (tuple(states) if lstm else states[0])
        out, h = model(x, hx)
        final = list(h) if lstm else [h]
        return (out * out_w).sum() + sum((s**2).sum() for s in final), (out, final)

    # compiled as one program: much faster than op-by-op dispatch of the scan and its gradient
    step = jtorch.jit(jtorch.value_and_grad(loss_fn, argnums=(0, 1, 2), has_aux=True))
    (loss, (out, final)), (grads, gx, gstates) = step(
        j, jnp.asarray(x), [jnp.asarray(s) for s in states]
    )

    _close(out, tout, "output")
    for a, b in zip(final, tfinal, strict=True):
        assert a.shape == tuple(b.shape)
        _close(a, b, "final state")
    _close(gx, tx.grad, "grad input")
    for g, s in zip(gstates, tstates, strict=True):
        _close(g, s.grad, "grad initial state")
    tparams = dict(t.named_parameters())
    assert list(grads) == list(tparams)
    for key, g in grads.items():
        _close(g, tparams[key].grad, f"grad {key}")


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_unbatched_input_matches_torch(name):
    kwargs = dict(num_layers=2, bidirectional=True)
    t, j = _pair(name, kwargs)
    x = np.random.default_rng(2).standard_normal((L, H_IN)).astype(np.float32)
    tout, th = t(torch.tensor(x))
    out, h = j(jnp.asarray(x))
    _close(out, tout, "output")
    for a, b in zip(jax.tree.leaves(h), (th if name == "LSTM" else [th]), strict=True):
        assert a.shape == tuple(b.shape)
        _close(a, b, "final state")


def test_dropout_between_layers_train_only():
    """p=1 zeroes the first layer's output in train mode (deterministic, compared with torch);
    eval mode ignores dropout; p=0.5 draws a fresh mask per compiled call in train mode."""
    t, j = _pair("GRU", dict(num_layers=2, dropout=1.0))
    x = torch.randn(L, N, H_IN)
    for mode in (True, False):
        t.train(mode)
        j.train(mode)
        tout, th = t(x)
        out, h = j(x.numpy())
        _close(out, tout, f"output train={mode}")
        _close(h, th, f"h_n train={mode}")

    j = nn.LSTM(H_IN, H, num_layers=2, dropout=0.5)
    step = jtorch.jit(lambda m, x: m(x)[0])
    a, b = step(j, x.numpy()), step(j, x.numpy())
    assert not np.allclose(a, b)


# (cell, constructor kwargs, batched input)
CELL_CASES = [
    ("RNNCell", dict(), True),
    ("RNNCell", dict(nonlinearity="relu", bias=False), False),
    ("LSTMCell", dict(), False),
    ("LSTMCell", dict(bias=False), True),
    ("GRUCell", dict(), True),
    ("GRUCell", dict(bias=False), False),
]


@pytest.mark.parametrize("name,kwargs,batched", CELL_CASES, ids=lambda c: str(c))
def test_cells_match_torch(name, kwargs, batched):
    t, j = _pair(name, kwargs)
    lstm = name == "LSTMCell"
    gen = np.random.default_rng(3)
    lead = (N,) if batched else ()
    x = gen.standard_normal(lead + (H_IN,)).astype(np.float32)
    states = [gen.standard_normal(lead + (H,)).astype(np.float32) for _ in range(1 + lstm)]

    tx = torch.tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    tres = t(tx, tuple(ts) if lstm else ts[0])
    tres = list(tres) if lstm else [tres]
    sum((r * (k + 1)).sum() for k, r in enumerate(tres)).backward()

    def loss_fn(model, x, states):
        res = model(x, tuple(states) if lstm else states[0])
        res = list(res) if lstm else [res]
        return sum((r * (k + 1)).sum() for k, r in enumerate(res)), res

    step = jtorch.jit(jtorch.value_and_grad(loss_fn, argnums=(0, 1, 2), has_aux=True))
    (_, res), (grads, gx, gs) = step(j, jnp.asarray(x), [jnp.asarray(s) for s in states])
    for a, b in zip(res, tres, strict=True):
        _close(a, b, "cell output")
    _close(gx, tx.grad, "grad input")
    for g, s in zip(gs, ts, strict=True):
        _close(g, s.grad, "grad state")
    tparams = dict(t.named_parameters())
    assert list(grads) == list(tparams)
    for key, g in grads.items():
        _close(g, tparams[key].grad, f"grad {key}")
    # default zero state
    tres0 = t(tx)
    res0 = j(jnp.asarray(x))
    for a, b in zip(jax.tree.leaves(res0), (tres0 if lstm else [tres0]), strict=True):
        _close(a, b, "zero-state output")


def test_init_range_and_reprs():
    m = nn.LSTM(10, 20, num_layers=2, batch_first=True)
    assert repr(m) == "LSTM(10, 20, num_layers=2, batch_first=True)"
    assert repr(m) == repr(torch.nn.LSTM(10, 20, num_layers=2, batch_first=True))
    bound = 1 / np.sqrt(20)
    for _, p in m.named_parameters():
        assert np.all(np.abs(np.asarray(p.value)) <= bound)
    assert repr(nn.GRU(3, 4, dropout=0.25, num_layers=2, bidirectional=True)) == repr(
        torch.nn.GRU(3, 4, dropout=0.25, num_layers=2, bidirectional=True)
    )
    assert repr(nn.RNNCell(3, 4, False, "relu")) == repr(torch.nn.RNNCell(3, 4, False, "relu"))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: nn.LSTM(4, 4, proj_size=4), "proj_size"),
        (lambda: nn.GRU(4, 0), "hidden_size"),
        (lambda: nn.RNN(4, 4, nonlinearity="gelu"), "nonlinearity"),
        (lambda: nn.LSTM(4, 4, dropout=1.5), "dropout"),
        (lambda: nn.GRU(4, 4)(jnp.zeros((2, 3, 5))), "input_size"),
        (lambda: nn.GRU(4, 4)(jnp.zeros((2,))), "2D or 3D"),
        (lambda: nn.GRU(4, 4)(jnp.zeros((2, 3, 4)), jnp.zeros((1, 2, 4))), r"\(1, 3, 4\)"),
    ],
)
def test_bad_configurations_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_recurrences_are_reverse_mode_only_as_documented(name):
    """The LSTM and GRU recurrences have hand-written reverse passes (custom VJPs): forward mode
    raises JAX's error instead of giving a wrong result; a projected LSTM still differentiates
    its scan in both modes."""
    x = jnp.ones((3, 2, H_IN))
    with pytest.raises(TypeError, match="custom_vjp"):
        jax.jvp(lambda x: getattr(nn, name)(H_IN, H)(x)[0], (x,), (x,))
    projected = nn.LSTM(H_IN, H, proj_size=2)
    out, tangent = jax.jvp(lambda x: projected(x)[0], (x,), (x,))
    assert tangent.shape == out.shape == (3, 2, 2)
