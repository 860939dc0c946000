"""jtorch's top-level tensor functions vs torch's: each case is one call written once and run on
both libraries (`fn(torch, *inputs)` and `fn(jtorch, *inputs)`) with the same random inputs.

Compared: values (float32: rtol=1e-5, atol=1e-6; ints and bools exactly), the dtype kind
(float/int/bool; jtorch's int32 stands for torch's int64 without x64), named tuples' fields, and,
for the cases marked `grad`, the gradient of sum(out · w) w.r.t. the first input (same tolerances).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
F, N, B = "float", "int", "bool"  # input kinds

# (id, fn(lib, *inputs), input shapes, input kind, compare the gradient)
CASES = [
    ("cat", lambda L, x, y: L.cat([x, y], 1), [(2, 3), (2, 4)], F, True),
    ("cat_neg_dim", lambda L, x, y: L.cat((x, y), dim=-1), [(2, 3), (2, 4)], F, False),
    ("concat", lambda L, x, y: L.concat([x, y]), [(2, 3), (1, 3)], F, False),
    ("stack", lambda L, x, y: L.stack([x, y], dim=1), [(2, 3), (2, 3)], F, True),
    ("split_int", lambda L, x: L.split(x, 2, dim=1), [(2, 5)], F, False),
    ("split_list", lambda L, x: L.split(x, [1, 3, 1], 1), [(2, 5)], F, False),
    ("chunk", lambda L, x: L.chunk(x, 3, 1), [(2, 7)], F, True),
    ("chunk_fewer", lambda L, x: L.chunk(x, 4, 0), [(3, 2)], F, False),
    ("unbind", lambda L, x: L.unbind(x, 1), [(2, 3)], F, False),
    ("flatten_1", lambda L, x: L.flatten(x, 1), [(2, 3, 4)], F, True),
    ("flatten_range", lambda L, x: L.flatten(x, start_dim=0, end_dim=1), [(2, 3, 4)], F, False),
    ("reshape", lambda L, x: L.reshape(x, (4, -1)), [(2, 3, 4)], F, False),
    ("squeeze_all", lambda L, x: L.squeeze(x), [(2, 1, 3, 1)], F, False),
    ("squeeze_dim", lambda L, x: L.squeeze(x, 1), [(2, 1, 3)], F, False),
    ("squeeze_keep", lambda L, x: L.squeeze(x, 0), [(2, 1, 3)], F, False),
    ("squeeze_tuple", lambda L, x: L.squeeze(x, (1, 3)), [(2, 1, 3, 1)], F, False),
    ("unsqueeze", lambda L, x: L.unsqueeze(x, -1), [(2, 3)], F, False),
    ("permute", lambda L, x: L.permute(x, (2, 0, 1)), [(2, 3, 4)], F, True),
    ("transpose", lambda L, x: L.transpose(x, 0, 2), [(2, 3, 4)], F, False),
    ("t", lambda L, x: L.t(x), [(2, 3)], F, False),
    ("t_1d", lambda L, x: L.t(x), [(3,)], F, False),
    ("narrow", lambda L, x: L.narrow(x, 1, 1, 2), [(2, 4)], F, True),
    ("narrow_neg", lambda L, x: L.narrow(x, 0, -2, 2), [(4, 2)], F, False),
    ("flip", lambda L, x: L.flip(x, [0, 1]), [(2, 3)], F, False),
    ("roll", lambda L, x: L.roll(x, 1, 1), [(2, 3)], F, False),
    ("where", lambda L, x, y: L.where(x > 0, x, y), [(3, 4), (3, 4)], F, True),
    ("where_scalar", lambda L, x: L.where(x > 0, x, 0.0), [(3, 4)], F, False),
    ("masked_fill", lambda L, x: L.masked_fill(x, x < 0, -1.5), [(3, 4)], F, True),
    ("clamp", lambda L, x: L.clamp(x, -0.5, 0.5), [(3, 4)], F, True),
    ("clamp_min", lambda L, x: L.clamp(x, min=0.1), [(3, 4)], F, False),
    ("clip_max", lambda L, x: L.clip(x, max=0.2), [(3, 4)], F, False),
    ("abs", lambda L, x: L.abs(x), [(3, 4)], F, False),
    ("exp", lambda L, x: L.exp(x), [(3, 4)], F, False),
    ("log", lambda L, x: L.log(L.abs(x) + 0.1), [(3, 4)], F, True),
    ("sqrt", lambda L, x: L.sqrt(L.abs(x)), [(3, 4)], F, False),
    ("rsqrt", lambda L, x: L.rsqrt(L.abs(x) + 1), [(3, 4)], F, False),
    ("sigmoid", lambda L, x: L.sigmoid(x), [(3, 4)], F, True),
    ("tanh", lambda L, x: L.tanh(x), [(3, 4)], F, False),
    ("relu", lambda L, x: L.relu(x), [(3, 4)], F, False),
    ("sign", lambda L, x: L.sign(x), [(3, 4)], F, False),
    ("pow", lambda L, x: L.pow(x, 2), [(3, 4)], F, True),
    ("add_alpha", lambda L, x, y: L.add(x, y, alpha=2), [(3, 4), (3, 4)], F, False),
    ("sub", lambda L, x, y: L.sub(x, y), [(3, 4), (4,)], F, True),
    ("mul", lambda L, x, y: L.mul(x, y), [(3, 4), (3, 4)], F, False),
    ("div_floor", lambda L, x, y: L.div(x, y, rounding_mode="floor"), [(3, 4), (3, 4)], N, False),
    ("div_trunc", lambda L, x, y: L.div(x, y + 0.5, rounding_mode="trunc"), [(3, 4)] * 2, F, False),
    ("maximum", lambda L, x, y: L.maximum(x, y), [(3, 4), (3, 4)], F, False),
    ("softmax", lambda L, x: L.softmax(x, dim=1), [(3, 4)], F, True),
    ("log_softmax", lambda L, x: L.log_softmax(x, 0), [(3, 4)], F, False),
    ("logsumexp", lambda L, x: L.logsumexp(x, 1, keepdim=True), [(3, 4)], F, True),
    ("matmul", lambda L, x, y: L.matmul(x, y), [(2, 3, 4), (4, 5)], F, True),
    ("mm", lambda L, x, y: L.mm(x, y), [(3, 4), (4, 2)], F, False),
    ("bmm", lambda L, x, y: L.bmm(x, y), [(2, 3, 4), (2, 4, 2)], F, True),
    ("einsum", lambda L, x, y: L.einsum("ij,jk->ik", x, y), [(3, 4), (4, 2)], F, False),
    ("einsum_list", lambda L, x, y: L.einsum("bi,bi->b", [x, y]), [(3, 4), (3, 4)], F, False),
    ("outer", lambda L, x, y: L.outer(x, y), [(3,), (4,)], F, False),
    ("sum_all", lambda L, x: L.sum(x), [(3, 4)], F, False),
    ("sum_dim", lambda L, x: L.sum(x, dim=1), [(3, 4)], F, True),
    ("sum_dims_keep", lambda L, x: L.sum(x, (0, 2), keepdim=True), [(2, 3, 4)], F, False),
    ("sum_bool", lambda L, x: L.sum(x), [(3, 4)], B, False),
    ("mean_dim", lambda L, x: L.mean(x, -1), [(3, 4)], F, True),
    ("mean_keep", lambda L, x: L.mean(x, dim=0, keepdim=True), [(3, 4)], F, False),
    ("prod", lambda L, x: L.prod(x, 1), [(3, 4)], F, True),
    ("std_all", lambda L, x: L.std(x), [(3, 4)], F, False),
    ("std_dim", lambda L, x: L.std(x, dim=1, keepdim=True), [(3, 4)], F, True),
    ("std_biased", lambda L, x: L.std(x, 0, unbiased=False), [(3, 4)], F, False),
    ("std_bool_arg", lambda L, x: L.std(x, False), [(3, 4)], F, False),
    ("var_correction", lambda L, x: L.var(x, 1, correction=0), [(3, 4)], F, True),
    ("var_dim", lambda L, x: L.var(x, 1), [(3, 4)], F, False),
    ("max_all", lambda L, x: L.max(x), [(3, 4)], F, True),
    ("max_dim", lambda L, x: L.max(x, 1), [(3, 4)], F, True),
    ("max_keepdim", lambda L, x: L.max(x, dim=0, keepdim=True), [(3, 4)], F, False),
    ("max_other", lambda L, x, y: L.max(x, y), [(3, 4), (3, 4)], F, False),
    ("min_dim", lambda L, x: L.min(x, -1), [(3, 4)], F, False),
    ("amax", lambda L, x: L.amax(x, (0, 1)), [(3, 4, 2)], F, False),
    ("amin", lambda L, x: L.amin(x, 1), [(3, 4)], F, False),
    ("argmax", lambda L, x: L.argmax(x), [(3, 4)], F, False),
    ("argmax_dim", lambda L, x: L.argmax(x, 1), [(3, 4)], F, False),
    ("argmin_keep", lambda L, x: L.argmin(x, dim=0, keepdim=True), [(3, 4)], F, False),
    ("sort", lambda L, x: L.sort(x), [(3, 4)], F, True),
    ("sort_desc", lambda L, x: L.sort(x, dim=0, descending=True), [(3, 4)], F, False),
    ("argsort", lambda L, x: L.argsort(x, 1), [(3, 4)], F, False),
    ("topk", lambda L, x: L.topk(x, 2), [(3, 5)], F, True),
    ("topk_smallest", lambda L, x: L.topk(x, 2, dim=0, largest=False), [(4, 3)], F, False),
    ("kthvalue", lambda L, x: L.kthvalue(x, 2, 1), [(3, 5)], F, False),
    ("median_all", lambda L, x: L.median(x), [(3, 4)], F, False),
    ("median_dim", lambda L, x: L.median(x, 1), [(3, 4)], F, False),
    ("median_odd", lambda L, x: L.median(x, 0, keepdim=True), [(5, 2)], F, False),
    ("mode", lambda L, x: L.mode(x % 3, 1), [(4, 7)], N, False),
    ("cumsum", lambda L, x: L.cumsum(x, dim=1), [(3, 4)], F, True),
    ("cumprod", lambda L, x: L.cumprod(x, 0), [(3, 4)], F, False),
    ("all", lambda L, x: L.all(x), [(3, 4)], B, False),
    ("all_dim", lambda L, x: L.all(x, dim=1), [(3, 4)], B, False),
    ("any_dim", lambda L, x: L.any(x, 0, keepdim=True), [(3, 4)], B, False),
    ("eq", lambda L, x, y: L.eq(x, y), [(3, 4), (3, 4)], N, False),
    ("ne_scalar", lambda L, x: L.ne(x, 1), [(3, 4)], N, False),
    ("gt", lambda L, x, y: L.gt(x, y), [(3, 4), (3, 4)], F, False),
    ("le", lambda L, x: L.le(x, 0.0), [(3, 4)], F, False),
    ("isclose", lambda L, x: L.isclose(x, x + 1e-6), [(3, 4)], F, False),
    ("allclose", lambda L, x: L.allclose(x, x * 1.001), [(3, 4)], F, False),
    ("equal", lambda L, x, y: L.equal(x, y), [(3, 4), (3, 4)], F, False),
    ("equal_self", lambda L, x: L.equal(x, x), [(3, 4)], F, False),
    ("numel", lambda L, x: L.numel(x), [(3, 4)], F, False),
    ("is_tensor", lambda L, x: L.is_tensor(x) and not L.is_tensor([1.0]), [(3,)], F, False),
    ("is_floating_point", lambda L, x: L.is_floating_point(x), [(3,)], N, False),
    ("zeros_like", lambda L, x: L.zeros_like(x), [(3, 4)], F, False),
    ("ones_like_dtype", lambda L, x: L.ones_like(x, dtype=L.int32), [(3, 4)], F, False),
    ("full_like", lambda L, x: L.full_like(x, 2.5), [(3, 4)], F, False),
    ("empty_like_shape", lambda L, x: L.empty_like(x).shape == x.shape, [(3, 4)], F, False),
    ("empty_shape", lambda L, x: tuple(L.empty(2, 3).shape), [(1,)], F, False),
    ("empty_size_kw", lambda L, x: tuple(L.empty(size=(2, 3)).shape), [(1,)], F, False),
    ("eye", lambda L, x: L.eye(3, 4), [(1,)], F, False),
    ("linspace", lambda L, x: L.linspace(-1, 2, 7), [(1,)], F, False),
    ("logspace", lambda L, x: L.logspace(0, 2, 5, base=2.0), [(1,)], F, False),
    ("norm", lambda L, x: L.norm(x), [(3, 4)], F, False),
    ("norm_p1_dim", lambda L, x: L.norm(x, p=1, dim=1), [(3, 4)], F, True),
    ("norm_p3_keep", lambda L, x: L.norm(x, 3, 0, keepdim=True), [(3, 4)], F, False),
    ("norm_inf", lambda L, x: L.norm(x, math.inf), [(3, 4)], F, False),
    ("dist", lambda L, x, y: L.dist(x, y), [(3, 4), (3, 4)], F, False),
    ("dist_p1", lambda L, x, y: L.dist(x, y, 1), [(3, 4), (3, 4)], F, False),
    ("gather", lambda L, x: L.gather(x, 1, L.argsort(x, 1)), [(3, 4)], F, True),
    ("index_select", lambda L, x: L.index_select(x, 0, L.argmax(x, 0)), [(3, 4)], F, False),
    ("tril", lambda L, x: L.tril(x, -1), [(3, 4)], F, False),
    ("triu", lambda L, x: L.triu(x), [(3, 4)], F, False),
    ("detach", lambda L, x: L.detach(x) * x, [(3, 4)], F, True),
    ("meshgrid", lambda L, x, y: L.meshgrid(x, y, indexing="ij"), [(3,), (4,)], F, False),
    ("broadcast_to", lambda L, x: L.broadcast_to(x, (2, 3, 4)), [(3, 1)], F, False),
]


def _inputs(shapes, kind, seed=0):
    rng = np.random.default_rng(seed)
    if kind == F:
        return [rng.standard_normal(s).astype(np.float32) for s in shapes]
    if kind == N:
        return [rng.integers(1, 5, s).astype(np.int32) for s in shapes]
    return [rng.random(s) > 0.3 for s in shapes]


def _kind(dtype):
    return "f" if np.issubdtype(dtype, np.floating) else "b" if dtype == np.bool_ else "i"


def _compare(got, want, where="out"):
    if isinstance(want, torch.Tensor):
        want = want.detach().numpy()
        got = np.asarray(got)
        assert got.shape == want.shape, f"{where}: shape {got.shape} vs torch {want.shape}"
        assert _kind(got.dtype) == _kind(want.dtype), f"{where}: {got.dtype} vs {want.dtype}"
        np.testing.assert_allclose(got, want, RTOL, ATOL, err_msg=where)
    elif isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), where
        if hasattr(want, "values") and hasattr(want, "indices"):  # torch.return_types
            assert got._fields == ("values", "indices"), f"{where}: {type(got)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _compare(g, w, f"{where}[{i}]")
    else:
        assert got == want, f"{where}: {got!r} vs torch {want!r}"


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


@pytest.mark.parametrize("name,fn,shapes,kind,grad", CASES, ids=[c[0] for c in CASES])
def test_function_matches_torch(name, fn, shapes, kind, grad):
    xs = _inputs(shapes, kind)
    want = fn(torch, *[torch.tensor(x) for x in xs])
    got = fn(jtorch, *[jnp.asarray(x) for x in xs])
    _compare(got, want)
    if not grad:
        return
    x_t = [torch.tensor(x, requires_grad=True) for x in xs]
    out_t = _first(fn(torch, *x_t))
    w = np.random.default_rng(1).standard_normal(tuple(out_t.shape)).astype(np.float32)
    (out_t * torch.tensor(w)).sum().backward()

    def loss(x0):
        return jnp.sum(_first(fn(jtorch, x0, *[jnp.asarray(x) for x in xs[1:]])) * w)

    np.testing.assert_allclose(
        np.asarray(jax.grad(loss)(jnp.asarray(xs[0]))), x_t[0].grad.numpy(), RTOL, ATOL
    )


def test_functions_run_inside_jit():
    x = jnp.asarray(_inputs([(3, 4)], F)[0])

    @jax.jit
    def f(x):
        values, indices = jtorch.max(x, dim=1)
        return jtorch.cat([jtorch.flatten(x), values]), indices, jtorch.narrow(x, 1, 1, 2)

    out, idx, nar = f(x)
    np.testing.assert_array_equal(np.asarray(idx), np.argmax(np.asarray(x), 1))
    assert out.shape == (15,) and nar.shape == (3, 2)


DTYPE_NAMES = ["float", "float32", "half", "float16", "bfloat16", "int", "int32", "int16"]
DTYPE_NAMES += ["int8", "uint8", "bool", "short", "complex64", "cfloat"]


@pytest.mark.parametrize("name", DTYPE_NAMES)
def test_dtype_names_match_torch(name):
    t = str(getattr(torch, name)).removeprefix("torch.")
    assert jnp.dtype(getattr(jtorch, name)) == jnp.dtype(t if t != "bfloat16" else jnp.bfloat16)


@pytest.mark.parametrize("name", ["long", "int64", "double", "float64", "cdouble"])
def test_64_bit_names_follow_x64(name):
    want = jax.dtypes.canonicalize_dtype(str(getattr(torch, name)).removeprefix("torch."))
    assert jnp.dtype(getattr(jtorch, name)) == want
    with jax.enable_x64(True):
        assert jnp.dtype(getattr(jtorch, name)).itemsize == getattr(torch, name).itemsize


def test_size_prints_and_compares_as_torch():
    s = jtorch.Size([2, 3, 4])
    assert repr(s) == repr(torch.Size([2, 3, 4])) and s == (2, 3, 4) and s.numel() == 24
    assert repr(s[1:]) == repr(torch.Size([2, 3, 4])[1:])


def test_default_dtype_and_devices():
    assert jtorch.get_default_dtype() == jnp.dtype(str(torch.get_default_dtype())[6:])
    assert jtorch.empty(2).dtype == jnp.float32
    assert jtorch.cuda.is_available() == bool([d for d in jax.devices() if d.platform == "gpu"])
    assert jtorch.backends.mps.is_available() is False
    jtorch.backends.cudnn.benchmark = True  # accepted, as scripts set it


def test_legacy_tensor_constructors():
    x = jtorch.FloatTensor([[0.9, 0.2]])
    y = jtorch.LongTensor([[3, 0]])
    assert x.dtype == jnp.float32 and y.dtype == jtorch.long and jtorch.Tensor(2, 3).shape == (2, 3)
    assert isinstance(x, jtorch.Tensor) and isinstance(x, jtorch.FloatTensor)
    assert not isinstance(y, jtorch.FloatTensor) and not isinstance([1.0], jtorch.Tensor)
    assert isinstance(jtorch.nn.Linear(2, 2).weight, jtorch.Tensor)


def test_from_numpy():
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    x = jtorch.from_numpy(a)
    np.testing.assert_array_equal(np.asarray(x), torch.from_numpy(a).numpy())
    with pytest.raises(TypeError, match="numpy.ndarray"):
        jtorch.from_numpy([1, 2])


ERROR_CASES = [
    ("out", lambda: jtorch.cat([jnp.ones(2)], out=jnp.ones(2)), TypeError, "`out=` is not sup"),
    ("dim_range", lambda: jtorch.sum(jnp.ones((2, 3)), dim=2), IndexError, r"`dim`=2 is out of"),
    ("split_sum", lambda: jtorch.split(jnp.ones(5), [2, 2]), ValueError, "sums to 4, expected"),
    ("permute", lambda: jtorch.permute(jnp.ones((2, 3)), (0, 0)), ValueError, "not a permutation"),
    ("mm_3d", lambda: jtorch.mm(jnp.ones((2, 2, 2)), jnp.ones((2, 2))), ValueError, "2-d"),
    ("softmax_dim", lambda: jtorch.softmax(jnp.ones(3)), TypeError, "`dim` is required"),
    ("narrow", lambda: jtorch.narrow(jnp.ones(4), 0, 3, 2), ValueError, "exceeds dim 0"),
    ("mask", lambda: jtorch.masked_fill(jnp.ones(2), jnp.ones(2), 0), TypeError, "bool array"),
    ("topk", lambda: jtorch.topk(jnp.ones(3), 4), ValueError, "`k`=4 is out of range"),
    ("cat_empty", lambda: jtorch.cat([]), TypeError, "non-empty"),
    ("clamp", lambda: jtorch.clamp(jnp.ones(2)), ValueError, "at least one of `min`"),
]


@pytest.mark.parametrize("name,call,exc,match", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_bad_input_raises_a_clear_error(name, call, exc, match):
    with pytest.raises(exc, match=match):
        call()
