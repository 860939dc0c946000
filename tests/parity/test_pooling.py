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


UNPOOL_CASES = [
    # (dim, max-pool kwargs, spatial shape, pass output_size)
    (1, dict(kernel_size=2), (9,), True),  # odd length: output_size restores it
    (1, dict(kernel_size=3, stride=1, padding=1), (7,), False),  # shared indices
    (2, dict(kernel_size=2), (6, 8), False),
    (2, dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), (7, 6), True),
    (2, dict(kernel_size=(3, 2), stride=(1, 2), dilation=(1, 2)), (6, 5), True),
    (3, dict(kernel_size=2, stride=(1, 2, 2), padding=(1, 0, 1)), (4, 5, 4), True),
]


@pytest.mark.parametrize("dim,kwargs,spatial,sized", UNPOOL_CASES, ids=str)
def test_max_unpool_matches_torch(dim, kwargs, spatial, sized):
    """max_pool(return_indices=True) then max_unpool: the unpooled values, and the gradients
    w.r.t. the pooled values and (through both) the original input, equal torch's."""
    x = _x((2, 3, *spatial))
    unpool_kw = {k: kwargs[k] for k in ("kernel_size", "stride", "padding") if k in kwargs}
    if sized:
        unpool_kw["output_size"] = spatial
    x_t = torch.tensor(x, requires_grad=True)
    y_t, idx_t = getattr(TF, f"max_pool{dim}d")(x_t, return_indices=True, **kwargs)
    y_t.retain_grad()
    out_t = getattr(TF, f"max_unpool{dim}d")(y_t, idx_t, **unpool_kw)
    g = np.random.default_rng(1).standard_normal(tuple(out_t.shape)).astype(np.float32)
    out_t.backward(torch.tensor(g))

    def chain(x):
        y, idx = getattr(F, f"max_pool{dim}d")(x, return_indices=True, **kwargs)
        return getattr(F, f"max_unpool{dim}d")(y, idx, **unpool_kw), y, idx

    @jax.jit
    def run(x, g):
        _, y, idx = chain(x)
        out, vjp = jax.vjp(lambda x: chain(x)[0], x)
        unpool = lambda y: getattr(F, f"max_unpool{dim}d")(y, idx, **unpool_kw)  # noqa: E731
        dy = jax.vjp(unpool, y)[1](g)[0]
        return out, vjp(g)[0], dy

    out, dx, dy = run(jnp.asarray(x), g)
    np.testing.assert_array_equal(np.asarray(out), out_t.detach().numpy())
    np.testing.assert_array_equal(np.asarray(dy), y_t.grad.numpy())
    np.testing.assert_allclose(np.asarray(dx), x_t.grad.numpy(), RTOL, ATOL)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_max_unpool_module_repr_and_unbatched_forward_match_torch(dim):
    tm, jm = getattr(torch.nn, f"MaxUnpool{dim}d")(2), getattr(nn, f"MaxUnpool{dim}d")(2)
    assert repr(jm) == repr(tm)
    x = _x((3, *(5,) * dim))  # unbatched, odd sizes: output_size needed
    y_t, idx_t = getattr(torch.nn, f"MaxPool{dim}d")(2, return_indices=True)(torch.tensor(x))
    pool = getattr(nn, f"MaxPool{dim}d")(2, return_indices=True)
    want = tm(y_t, idx_t, output_size=list(x.shape[1:]))
    got = jax.jit(lambda x: jm(*pool(x), output_size=x.shape[1:]))(x)  # one compilation
    np.testing.assert_array_equal(np.asarray(got), want.numpy())


LP3_CASES = [
    ((2, 2, 4, 5, 6), (2.0, 2), {}),
    ((2, 2, 5, 5, 5), (3, (2, 1, 3)), dict(stride=(1, 2, 1), ceil_mode=True)),
    ((2, 2, 4, 4, 4), (float("inf"), 2), {}),
]


@pytest.mark.parametrize("shape,args,kwargs", LP3_CASES, ids=str)
def test_lp_pool3d_matches_torch(shape, args, kwargs):
    _check_fn("lp_pool3d", _x(shape), *args, **kwargs)


LP_ZERO_CASES = [("lp_pool1d", 1, 2), ("lp_pool2d", 2, 2), ("lp_pool3d", 3, 2), ("lp_pool2d", 2, 3)]


@pytest.mark.parametrize("name,dim,norm_type", LP_ZERO_CASES)
def test_lp_pool_zero_windows_give_torch_gradient_not_nan(name, dim, norm_type):
    """A window whose Σ x^p is 0 has gradient 0 in torch; the values around it are unaffected."""
    x = np.abs(_x((2, 2, *(4,) * dim)))  # Σ x^3 < 0 is NaN in both libraries
    x[:, 0] = 0.0  # every window of channel 0 is all zeros
    x[:, 1, ..., :2] = 0.0  # some windows of channel 1 too
    _check_fn(name, x, norm_type, 2)  # torch's gradient there is 0, not NaN


BAD_WINDOW_CASES = [
    # (callable, expected error type, message pattern); torch raises RuntimeError for most
    (lambda x: F.max_pool2d(x, 2, stride=0), ValueError, "`stride` must be greater than zero"),
    (lambda x: F.avg_pool2d(x, 2, stride=(1, 0)), ValueError, "`stride`"),
    (lambda x: F.lp_pool2d(x, 2, 2, stride=0), ValueError, "`stride`"),
    (lambda x: F.max_pool2d(x, 0), ValueError, "`kernel_size` must be greater than zero"),
    (lambda x: F.max_pool2d(x, 2, dilation=0), ValueError, "`dilation`"),
    (lambda x: F.max_pool2d(x, 3, padding=-1), ValueError, "`padding` must be non-negative"),
    (lambda x: F.max_pool2d(x, 3, dilation=2, padding=2), ValueError, "at most half"),
    (lambda x: F.max_pool2d(x, 2.5), TypeError, "`kernel_size` must be an int"),
    (lambda x: F.max_unpool2d(x, jnp.zeros(x.shape, int), 2, stride=0), ValueError, "`stride`"),
    (lambda x: F.max_unpool2d(x, jnp.zeros((1, 2), int), 2), ValueError, "`indices` must have"),
    (lambda x: F.max_unpool2d(x, jnp.full(x.shape, 256), 2), ValueError, r"valid: 0 to 255"),
    (lambda x: F.max_unpool2d(x, x > 9, 2), ValueError, "`indices` must be integers"),
    (
        lambda x: F.max_unpool2d(x, x.astype(int) * 0, 2, output_size=(3, 3)),
        ValueError,
        "14 and 18",
    ),
    (lambda x: F.max_unpool2d(x, x.astype(int) * 0, 2, output_size=(16,)), ValueError, "2 or 4"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), ValueError, "`divisor_override`"),
    (lambda x: F.lp_pool2d(x, 0, 2), ValueError, "`norm_type` must not be zero"),
    (lambda x: nn.MaxPool2d(2, stride=0), ValueError, "MaxPool2d: `stride`"),
    (lambda x: nn.AvgPool1d(2, padding=2), ValueError, "AvgPool1d: `padding`"),
    (lambda x: nn.LPPool3d(2, (2, 0, 2)), ValueError, "LPPool3d: `kernel_size`"),
    (lambda x: nn.MaxPool3d((2, 2)), ValueError, "kernel_size"),
    (lambda x: nn.MaxUnpool1d(2, padding=-1), ValueError, "MaxUnpool1d: `padding`"),
]


@pytest.mark.parametrize("call,error,match", BAD_WINDOW_CASES)
def test_bad_window_arguments_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call(_x((1, 2, 8, 8)))


INDEX_EDGE_CASES = [
    ("max_pool1d", (2, 3, 9), dict(kernel_size=3, stride=2, padding=1, return_indices=True)),
    ("max_pool2d", (2, 3, 7, 6), dict(kernel_size=3, stride=1, padding=1, return_indices=True)),
    (
        "max_pool2d",
        (2, 3, 7, 7),
        dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True, return_indices=True),
    ),  # fmt: skip
    ("max_pool2d", (2, 3, 7, 7), dict(kernel_size=2, stride=1, dilation=2)),  # no indices
    ("max_pool3d", (1, 2, 4, 5, 5), dict(kernel_size=2, stride=1, padding=1, return_indices=True)),
]


@pytest.mark.parametrize("name,shape,kwargs", INDEX_EDGE_CASES, ids=str)
def test_max_pool_indices_with_inf_and_nan_match_torch_exactly(name, shape, kwargs):
    """Windows of only −∞ next to padding point at their first input position, a window with
    NaN at its last NaN (torch's CPU kernel); values, indices and gradients compared exactly."""
    x = _tile_input("-inf", shape)
    x[np.random.default_rng(3).random(shape) < 0.1] = np.nan
    x_t = torch.tensor(x, requires_grad=True)
    out_t = getattr(TF, name)(x_t, **kwargs)
    first_t = out_t[0] if isinstance(out_t, tuple) else out_t
    g = np.random.default_rng(1).standard_normal(tuple(first_t.shape)).astype(np.float32)
    first_t.backward(torch.tensor(g))

    @jax.jit
    def run(x, g):
        out, vjp = jax.vjp(lambda x: getattr(F, name)(x, **kwargs), x)
        cot = (g, jnp.zeros(out[1].shape, out[1].dtype)) if isinstance(out, tuple) else g
        return out, vjp(cot)[0]

    out, dx = run(jnp.asarray(x), jnp.asarray(g))
    if isinstance(out, tuple):
        np.testing.assert_array_equal(np.asarray(out[1]), out_t[1].numpy())
        out = out[0]
    np.testing.assert_array_equal(np.asarray(out), first_t.detach().numpy())
    np.testing.assert_array_equal(np.asarray(dx), x_t.grad.numpy())
