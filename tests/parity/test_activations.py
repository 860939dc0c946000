"""Activations: forward values and gradients against torch (float32, rtol=1e-4, atol=1e-6).

Inputs are random normals scaled ×4 plus every kink torch defines a gradient at (0, ±0.5, ±1, ±3,
6, 20, ...), so the subgradient choices of torch's backward kernels are checked exactly.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch  # noqa: E402
import jtorch.nn.functional as F  # noqa: E402
from jtorch import nn  # noqa: E402

RTOL, ATOL = 1e-4, 1e-6
GRAD_ATOL = 1e-5  # float32 rounding of tanh/exp tails (values ~1e-5) differs by ~1e-6
KINKS = [0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 6.0, -2.0, 2.0, 20.0, 10.0, 0.25, -0.25]


def _inputs(seed: int, shape=(4, 6, 5)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    flat = x.reshape(-1)
    n = min(len(KINKS), flat.size)
    flat[:n] = KINKS[:n]
    return flat.reshape(shape)


# (name, kwargs): same function name and keyword arguments in both libraries
ELEMENTWISE = [
    ("relu", {}),
    ("relu6", {}),
    ("hardtanh", {}),
    ("hardtanh", dict(min_val=-2.0, max_val=3.0)),
    ("leaky_relu", {}),
    ("leaky_relu", dict(negative_slope=0.2)),
    ("elu", {}),
    ("elu", dict(alpha=0.5)),
    ("selu", {}),
    ("celu", {}),
    ("celu", dict(alpha=2.0)),
    ("gelu", {}),
    ("gelu", dict(approximate="tanh")),
    ("silu", {}),
    ("mish", {}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("hardsigmoid", {}),
    ("hardswish", {}),
    ("logsigmoid", {}),
    ("softplus", {}),
    ("softplus", dict(beta=2.0, threshold=10.0)),
    ("softplus", dict(beta=0.5, threshold=3.0)),
    ("softsign", {}),
    ("tanhshrink", {}),
    ("threshold", dict(threshold=0.5, value=-2.0)),
    ("hardshrink", {}),
    ("hardshrink", dict(lambd=1.0)),
    ("softshrink", {}),
    ("softshrink", dict(lambd=1.0)),
    ("glu", dict(dim=1)),
    ("softmax", dict(dim=1)),
    ("softmax", dict(dim=-1)),
    ("softmin", dict(dim=0)),
    ("log_softmax", dict(dim=2)),
    ("rrelu", {}),  # eval form: the fixed slope (lower + upper)/2
    ("rrelu", dict(lower=0.2, upper=0.4)),
]


def _torch_fn(name):
    return {"sigmoid": torch.sigmoid, "tanh": torch.tanh}.get(name) or getattr(
        torch.nn.functional, name
    )


def _check_fn(jt_fn, th_fn, x_np, seed=0, extra=()):
    """Compare values and gradients (w.r.t. x and each array in `extra`) of sum(f(x)·cotangent)."""
    out_t = th_fn(torch.tensor(x_np), *[torch.tensor(e) for e in extra])
    cot = np.random.default_rng(seed + 1).standard_normal(out_t.shape).astype(np.float32)

    xt = torch.tensor(x_np, requires_grad=True)
    ext = [torch.tensor(e, requires_grad=True) for e in extra]
    out_t = th_fn(xt, *ext)
    (out_t * torch.tensor(cot)).sum().backward()

    def loss(x, *ex):
        return jnp.sum(jt_fn(x, *ex) * cot)

    out_j = jt_fn(jnp.asarray(x_np), *map(jnp.asarray, extra))
    np.testing.assert_allclose(np.asarray(out_j), out_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    grads = jax.grad(loss, argnums=tuple(range(1 + len(extra))))(
        jnp.asarray(x_np), *map(jnp.asarray, extra)
    )
    for g, t in zip(grads, [xt, *ext]):
        np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), rtol=RTOL, atol=GRAD_ATOL)


@pytest.mark.parametrize("name,kwargs", ELEMENTWISE, ids=lambda c: str(c))
def test_functional_matches_torch_values_and_grads(name, kwargs):
    x = _inputs(len(name))
    _check_fn(lambda a: getattr(F, name)(a, **kwargs), lambda a: _torch_fn(name)(a, **kwargs), x)


@pytest.mark.parametrize("num_parameters,shape", [(1, (4, 6, 5)), (6, (4, 6, 5)), (1, (7,))])
def test_prelu_matches_torch_grads_wrt_input_and_weight(num_parameters, shape):
    x = _inputs(3, shape)
    w = np.random.default_rng(4).uniform(0, 1, num_parameters).astype(np.float32)
    _check_fn(F.prelu, torch.nn.functional.prelu, x, extra=(w,))


def test_softmax_implicit_dim_warns_and_follows_torch_rule():
    for shape in [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)]:
        x = _inputs(0, shape)
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
            out = F.softmax(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = torch.nn.functional.softmax(torch.tensor(x)).numpy()
        np.testing.assert_allclose(np.asarray(out), ref, rtol=RTOL, atol=ATOL)
    with pytest.warns(UserWarning, match="Implicit dimension choice for log_softmax"):
        nn.LogSoftmax()(jnp.ones((2, 3)))


def test_softmax_dtype_argument_casts_first():
    x = _inputs(1, (3, 4))
    out = F.log_softmax(x.astype(np.float16), dim=1, dtype=jnp.float32)
    assert out.dtype == jnp.float32
    ref = torch.log_softmax(torch.tensor(x).half(), 1, dtype=torch.float32).numpy()
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-3, atol=1e-3)


# (class name, constructor args) for module parity: values and repr text
MODULES = [
    ("ReLU", ()),
    ("ReLU", (True,)),
    ("ReLU6", ()),
    ("Hardtanh", (-2.0, 2.5)),
    ("LeakyReLU", (0.1,)),
    ("PReLU", ()),
    ("PReLU", (6, 0.1)),
    ("ELU", (0.7,)),
    ("SELU", ()),
    ("CELU", (1.5,)),
    ("GELU", ()),
    ("GELU", ("tanh",)),
    ("SiLU", ()),
    ("Mish", ()),
    ("Sigmoid", ()),
    ("Tanh", ()),
    ("Hardsigmoid", ()),
    ("Hardswish", ()),
    ("LogSigmoid", ()),
    ("Softplus", (2.0, 15.0)),
    ("Softsign", ()),
    ("Tanhshrink", ()),
    ("Threshold", (0.1, 20.0)),
    ("Hardshrink", (0.3,)),
    ("Softshrink", ()),
    ("GLU", (1,)),
    ("Softmax", (1,)),
    ("Softmin", (-1,)),
    ("LogSoftmax", (0,)),
    ("Softmax2d", ()),
]


@pytest.mark.parametrize("name,args", MODULES, ids=lambda c: str(c))
def test_module_matches_torch_values_repr_and_param_grads(name, args):
    x = _inputs(7)
    jt_mod = getattr(nn, name)(*args)
    th_mod = getattr(torch.nn, name)(*args)
    assert repr(jt_mod) == repr(th_mod)
    th_params = [n for n, _ in th_mod.named_parameters()]
    assert [n for n, _ in jt_mod.named_parameters()] == th_params
    xt = torch.tensor(x, requires_grad=True)
    out_t = th_mod(xt.clone() if args == (True,) else xt)
    out_t.square().sum().backward()
    np.testing.assert_allclose(
        np.asarray(jt_mod(jnp.asarray(x))), out_t.detach().numpy(), rtol=RTOL, atol=ATOL
    )
    if not th_params:  # input gradients are covered by the functional test
        return
    loss, grads = jtorch.value_and_grad(lambda m: jnp.sum(jnp.square(m(jnp.asarray(x)))))(jt_mod)
    for pname, p in th_mod.named_parameters():
        np.testing.assert_allclose(np.asarray(grads[pname]), p.grad.numpy(), rtol=RTOL, atol=1e-4)


@pytest.mark.parametrize("args", [(), (0.05, 0.5)])
def test_rrelu_eval_matches_torch_and_train_draws_slopes_in_bounds(args):
    """Eval: values and input gradients equal torch's fixed-slope form. Train: each negative
    element gets its own slope a ~ U(lower, upper) (checked on 20 000 draws: bounds, mean and
    standard deviation within 2% of the uniform's), positives pass, the gradient is the slope,
    and every compiled call draws new slopes from the module's stream."""
    jt_mod, th_mod = nn.RReLU(*args), torch.nn.RReLU(*args)
    assert repr(jt_mod) == repr(th_mod)
    assert repr(nn.RReLU(*args, inplace=True)) == repr(torch.nn.RReLU(*args, inplace=True))
    lower, upper = th_mod.lower, th_mod.upper
    jt_mod.eval()
    th_mod.eval()
    x = _inputs(5)
    _check_fn(jt_mod, th_mod, x)

    jt_mod.train()
    neg = -jnp.ones(20_000)
    step = jtorch.jit(lambda m, x: m(x))
    a, b = -np.asarray(step(jt_mod, neg)), -np.asarray(step(jt_mod, neg))
    assert lower <= a.min() and a.max() <= upper and not np.array_equal(a, b)
    assert abs(a.mean() - (lower + upper) / 2) < 0.02 * (upper - lower)
    assert abs(a.std() - (upper - lower) / np.sqrt(12)) < 0.02 * (upper - lower)
    np.testing.assert_array_equal(step(jt_mod, jnp.arange(1.0, 5.0)), np.arange(1.0, 5.0))
    key = jax.random.key(0)
    grad = jax.grad(lambda v: jnp.sum(F.rrelu(v, lower, upper, training=True, key=key)))(neg)
    np.testing.assert_allclose(-grad, F.rrelu(neg, lower, upper, training=True, key=key))


def test_bad_arguments_raise_value_error_naming_them():
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="min_val"):
        nn.Hardtanh(2.0, 1.0)
    with pytest.raises(ValueError, match=r"`weight` has 3 entries.*\(2, 6, 5\)"):
        F.prelu(jnp.ones((2, 6, 5)), jnp.ones(3))
    with pytest.raises(ValueError, match=r"size 5 on dim -1"):
        F.glu(jnp.ones((2, 5)))
    with pytest.raises(ValueError, match=r"`lower` \(0.5\) should be less than or equal"):
        nn.RReLU(0.5, 0.25)
    with pytest.raises(ValueError, match=r"3D or 4D.*\(2, 5\)"):
        nn.Softmax2d()(jnp.ones((2, 5)))


def test_jit_compiles_every_activation():
    x = jnp.asarray(_inputs(2))

    def all_activations(a):
        return [getattr(F, name)(a, **kwargs) for name, kwargs in ELEMENTWISE]

    for compiled, eager in zip(jax.jit(all_activations)(x), all_activations(x)):
        np.testing.assert_allclose(np.asarray(compiled), np.asarray(eager), rtol=1e-5, atol=1e-6)
