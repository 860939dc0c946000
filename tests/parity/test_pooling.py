"""Pooling against torch: forward values (and indices) and gradients w.r.t. the input.

Random valid configurations (dims 1-3, kernel, stride, padding up to half the kernel,
dilation, ceil_mode, count_include_pad, divisor_override; adaptive output sizes that do and do not
divide the input) come from a seeded generator. Tolerance: float32, rtol=1e-4, atol=1e-6.
Non-overlapping max pooling (its own elementwise path) is compared exactly: its values and
gradients are selections, in float32, bfloat16 and float16, with ties, -inf and NaN.
"""

import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch.nn.functional as F  # noqa: E402
from jtorch import nn  # noqa: E402

RTOL, ATOL = 1e-4, 1e-6
TF = torch.nn.functional


def _check_fn(name, x, *args, **kwargs):
    """Compare F.<name> with torch's on `x`: output, indices if any, and the input gradient."""
    x_t = torch.tensor(x, requires_grad=True)
    out_t = getattr(TF, name)(x_t, *args, **kwargs)
    idx_t = None
    if isinstance(out_t, tuple):
        out_t, idx_t = out_t
    g = np.random.default_rng(1).standard_normal(tuple(out_t.shape)).astype(np.float32)
    out_t.backward(torch.tensor(g))

    @jax.jit
    def run(x, g):
        out, vjp = jax.vjp(lambda x: getattr(F, name)(x, *args, **kwargs), x)
        cot = g if idx_t is None else (g, jnp.zeros(out[1].shape, out[1].dtype))
        return out, vjp(cot)[0]

    out_j, dx = run(jnp.asarray(x), g)
    if idx_t is not None:
        out_j, idx_j = out_j
        np.testing.assert_array_equal(np.asarray(idx_j), idx_t.numpy())
    np.testing.assert_allclose(np.asarray(out_j), out_t.detach().numpy(), RTOL, ATOL)
    np.testing.assert_allclose(np.asarray(dx), x_t.grad.numpy(), RTOL, ATOL)


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _max_cases(count, seed=0):
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        dim = rng.choice([1, 2, 2, 3])
        k = tuple(rng.randint(1, 3) for _ in range(dim))
        d = tuple(rng.choice([1, 1, 2]) for _ in range(dim))
        p = tuple(rng.randint(0, ki // 2) for ki in k)
        kwargs = dict(
            kernel_size=k,
            stride=rng.choice([None, tuple(rng.randint(1, 3) for _ in range(dim))]),
            padding=p,
            dilation=d,
            ceil_mode=rng.random() < 0.5,
            return_indices=rng.random() < 0.3,
        )
        spatial = tuple(rng.randint(5, 8) if dim < 3 else rng.randint(4, 5) for _ in range(dim))
        cases.append((dim, kwargs, spatial))
    return cases


@pytest.mark.parametrize("dim,kwargs,spatial", _max_cases(10), ids=str)
def test_max_pool_matches_torch(dim, kwargs, spatial):
    _check_fn(f"max_pool{dim}d", _x((2, 3, *spatial)), **kwargs)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("max_pool2d", dict(kernel_size=3, stride=1, padding=1)),
        ("max_pool2d", dict(kernel_size=2, dilation=2)),
        ("max_pool1d", dict(kernel_size=3, stride=2, return_indices=True)),
        ("adaptive_max_pool2d", dict(output_size=(3, 4))),
    ],
    ids=str,
)
def test_max_ties_send_the_gradient_to_the_first_maximum(name, kwargs):
    x = np.random.default_rng(0).integers(0, 3, (2, 2, 7, 7)).astype(np.float32)
    _check_fn(name, x[:, :, 0] if name.endswith("1d") else x, **kwargs)


def _avg_cases(count, seed=1):
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        dim = rng.choice([1, 2, 2, 3])
        k = tuple(rng.randint(1, 3) for _ in range(dim))
        kwargs = dict(
            kernel_size=k,
            stride=rng.choice([None, tuple(rng.randint(1, 3) for _ in range(dim))]),
            padding=tuple(rng.randint(0, ki // 2) for ki in k),
            ceil_mode=rng.random() < 0.5,
            count_include_pad=rng.random() < 0.5,
        )
        if dim > 1 and rng.random() < 0.3:
            kwargs["divisor_override"] = rng.randint(1, 5)
        spatial = tuple(rng.randint(5, 8) if dim < 3 else rng.randint(4, 5) for _ in range(dim))
        cases.append((dim, kwargs, spatial))
    return cases


@pytest.mark.parametrize("dim,kwargs,spatial", _avg_cases(10), ids=str)
def test_avg_pool_matches_torch(dim, kwargs, spatial):
    _check_fn(f"avg_pool{dim}d", _x((2, 3, *spatial)), **kwargs)


ADAPTIVE_CASES = [
    ("adaptive_avg_pool1d", (2, 3, 10), 4, {}),
    ("adaptive_avg_pool1d", (2, 3, 8), 4, {}),
    ("adaptive_avg_pool2d", (2, 3, 7, 9), (3, 4), {}),
    ("adaptive_avg_pool2d", (2, 3, 8, 8), 1, {}),
    ("adaptive_avg_pool2d", (3, 5, 6), (None, 4), {}),
    ("adaptive_avg_pool2d", (1, 2, 3, 3), (5, 7), {}),  # output larger than input
    ("adaptive_avg_pool3d", (1, 2, 5, 4, 6), (2, 3, 4), {}),
    ("adaptive_max_pool1d", (2, 3, 11), 3, dict(return_indices=True)),
    ("adaptive_max_pool2d", (2, 3, 7, 9), (3, 4), {}),
    ("adaptive_max_pool2d", (2, 3, 10, 7), (4, 5), dict(return_indices=True)),
    ("adaptive_max_pool2d", (2, 3, 3, 3), (5, 4), dict(return_indices=True)),
    ("adaptive_max_pool3d", (1, 2, 5, 4, 6), (2, 3, 4), dict(return_indices=True)),
]


@pytest.mark.parametrize("name,shape,output_size,kwargs", ADAPTIVE_CASES, ids=str)
def test_adaptive_pool_matches_torch(name, shape, output_size, kwargs):
    _check_fn(name, _x(shape), output_size, **kwargs)


LP_CASES = [
    ("lp_pool2d", (2, 3, 7, 8), (2.0, 3), dict(stride=2, ceil_mode=True)),
    ("lp_pool2d", (2, 3, 6, 6), (1.5, (2, 3)), {}),
    ("lp_pool2d", (2, 3, 6, 6), (float("inf"), 2), {}),
    ("lp_pool1d", (2, 3, 9), (3, 2), dict(stride=1)),
]


@pytest.mark.parametrize("name,shape,args,kwargs", LP_CASES, ids=str)
def test_lp_pool_matches_torch(name, shape, args, kwargs):
    x = _x(shape)
    if args[0] == 1.5:
        x = np.abs(x) + 0.1  # fractional powers need positive inputs in both libraries
    _check_fn(name, x, *args, **kwargs)


MODULE_CASES = [
    ("MaxPool2d", (3, 2), {}),
    ("MaxPool2d", ((2, 2),), {}),
    ("MaxPool1d", (3,), dict(stride=1, padding=1, dilation=2, ceil_mode=True)),
    ("MaxPool3d", (2,), dict(return_indices=True)),
    ("AvgPool1d", (3,), dict(padding=1)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, count_include_pad=False)),
    ("AvgPool2d", ((2, 3),), dict(ceil_mode=True, divisor_override=2)),
    ("AvgPool3d", (2, 1), {}),
    ("AdaptiveAvgPool1d", (3,), {}),
    ("AdaptiveAvgPool2d", ((None, 3),), {}),
    ("AdaptiveAvgPool3d", (2,), {}),
    ("AdaptiveMaxPool1d", (3,), {}),
    ("AdaptiveMaxPool2d", (2,), dict(return_indices=True)),
    ("AdaptiveMaxPool3d", ((1, 2, 2),), {}),
    ("LPPool1d", (2, 3), {}),
    ("LPPool2d", (2, 3), dict(stride=1)),
]


@pytest.mark.parametrize("name,args,kwargs", MODULE_CASES, ids=str)
def test_module_repr_and_forward_match_torch(name, args, kwargs):
    tm, jm = getattr(torch.nn, name)(*args, **kwargs), getattr(nn, name)(*args, **kwargs)
    assert repr(jm) == repr(tm)
    dim = int(name[-2])
    x = np.abs(_x((2, 3, *(6,) * dim))) + 0.1
    want, got = tm(torch.tensor(x)), jax.jit(lambda x: jm(x))(x)  # one compilation
    if isinstance(want, tuple):
        np.testing.assert_array_equal(np.asarray(got[1]), want[1].numpy())
        want, got = want[0], got[0]
    np.testing.assert_allclose(np.asarray(got), want.numpy(), RTOL, ATOL)


def test_bad_arguments_raise_value_error():
    x = _x((1, 2, 8, 8))
    with pytest.raises(ValueError, match="padding"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="padding"):
        F.avg_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*got shape \(8,\)"):
        F.max_pool2d(x[0, 0, 0], 2)
    with pytest.raises(ValueError, match="too small"):
        F.max_pool2d(x, 9)
    with pytest.raises(ValueError, match="kernel_size"):
        F.avg_pool2d(x, (2, 2, 2))
    with pytest.raises(ValueError, match="output_size"):
        F.adaptive_avg_pool2d(x, (0, 2))


def _tile_input(kind, shape, dtype="float32"):
    """Inputs for non-overlapping max pooling: random, tie-heavy, or with -inf / NaN entries."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape).astype(np.float32)
    if kind == "relu":  # post-ReLU activations: windows of zeros tie
        x = np.maximum(x, 0)
    elif kind == "ints":  # integer-valued floats in a small range: many ties
        x = rng.integers(0, 3, shape).astype(np.float32)
    elif kind == "-inf":  # some windows entirely -inf, others partly
        x[rng.random(shape) < 0.6] = -np.inf
    elif kind == "nan":  # torch propagates NaN and sends the gradient to the window's last NaN
        x[rng.random(shape) < 0.3] = np.nan
    return x.astype(dtype)


TILE_CASES = [
    ("max_pool2d", (2, 3, 8, 8), dict(kernel_size=2)),
    ("max_pool2d", (2, 3, 7, 9), dict(kernel_size=2)),  # remainders: cropped, zero gradient
    ("max_pool2d", (2, 3, 8, 9), dict(kernel_size=(2, 3), stride=(2, 3))),
    ("max_pool2d", (2, 3, 8, 6), dict(kernel_size=2, ceil_mode=True)),  # ceil changes nothing
    ("max_pool2d", (3, 9, 8), dict(kernel_size=3)),  # unbatched
    ("max_pool1d", (2, 3, 11), dict(kernel_size=3)),
    ("max_pool1d", (3, 10), dict(kernel_size=2)),  # unbatched
    ("max_pool3d", (2, 2, 5, 6, 7), dict(kernel_size=2)),
    ("max_pool3d", (2, 4, 6, 5), dict(kernel_size=(1, 2, 2))),  # unbatched
]


@pytest.mark.parametrize("kind", ["normal", "relu", "ints", "-inf", "nan"])
@pytest.mark.parametrize("name,shape,kwargs", TILE_CASES, ids=str)
def test_non_overlapping_max_pool_matches_torch_exactly(name, shape, kwargs, kind):
    """Values and input gradients are selections, so they must equal torch's bit for bit,
    including which tied element, -inf or NaN receives each window's gradient."""
    x = _tile_input(kind, shape)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = getattr(TF, name)(x_t, **kwargs)
    g = np.random.default_rng(1).standard_normal(tuple(out_t.shape)).astype(np.float32)
    out_t.backward(torch.tensor(g))
    out, vjp = jax.vjp(lambda x: getattr(F, name)(x, **kwargs), jnp.asarray(x))
    np.testing.assert_array_equal(np.asarray(out), out_t.detach().numpy())
    np.testing.assert_array_equal(np.asarray(vjp(jnp.asarray(g))[0]), x_t.grad.numpy())


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("kind", ["relu", "nan"])
def test_non_overlapping_max_pool_half_precision_matches_torch_exactly(dtype, kind):
    x = _tile_input(kind, (2, 3, 9, 8), "float32")
    x_t = torch.tensor(x).to(getattr(torch, dtype)).requires_grad_()
    out_t = TF.max_pool2d(x_t, 2)
    g_t = torch.randn(out_t.shape, generator=torch.Generator().manual_seed(0)).to(x_t.dtype)
    out_t.backward(g_t)
    as_np = lambda t: t.detach().float().numpy()  # noqa: E731
    x_j = jnp.asarray(x).astype(dtype)
    out, vjp = jax.jit(lambda x: jax.vjp(lambda x: F.max_pool2d(x, 2), x))(x_j)
    dx = vjp(jnp.asarray(as_np(g_t)).astype(dtype))[0]
    assert out.dtype == dx.dtype == jnp.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(out.astype(jnp.float32)), as_np(out_t))
    np.testing.assert_array_equal(np.asarray(dx.astype(jnp.float32)), as_np(x_t.grad))


def test_non_overlapping_max_pool_of_integers_matches_torch():
    x = np.random.default_rng(0).integers(-50, 50, (2, 3, 9, 8)).astype(np.int32)
    out = jax.jit(lambda x: F.max_pool2d(x, 2))(x)
    assert out.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(out), TF.max_pool2d(torch.tensor(x), 2).numpy())


def test_non_overlapping_max_pool_under_vmap_of_grad_matches_torch():
    """vmap over a leading axis of per-example gradients equals torch example by example."""
    x = _tile_input("relu", (4, 3, 2, 6, 6))
    r = np.random.default_rng(2).standard_normal((3, 2, 3, 3)).astype(np.float32)
    loss = lambda x: jnp.sum(F.max_pool2d(x, 2) * r)  # noqa: E731
    got = jax.jit(jax.vmap(jax.grad(loss)))(jnp.asarray(x))
    for i in range(x.shape[0]):
        x_t = torch.tensor(x[i], requires_grad=True)
        (TF.max_pool2d(x_t, 2) * torch.tensor(r)).sum().backward()
        np.testing.assert_array_equal(np.asarray(got[i]), x_t.grad.numpy())


@pytest.mark.parametrize(
    "kwargs,fast",
    [
        (dict(kernel_size=2), True),
        (dict(kernel_size=2, stride=2, padding=0, dilation=1), True),
        (dict(kernel_size=2, ceil_mode=True), False),  # 7 % 2 != 0: ceil adds a window
        (dict(kernel_size=2, padding=1), False),
        (dict(kernel_size=3, stride=2), False),
    ],
    ids=str,
)
def test_non_overlapping_max_pool_avoids_reduce_window(kwargs, fast):
    """The elementwise path leaves no reduce_window or select_and_scatter in the gradient."""
    x = jnp.ones((2, 3, 8, 7))
    text = str(jax.make_jaxpr(jax.grad(lambda x: F.max_pool2d(x, **kwargs).sum()))(x))
    assert ("reduce_window" in text or "select_and_scatter" in text) != fast
