"""torch's tensor methods on JAX arrays (jtorch._tensor_methods) vs torch's, and JAX's own call
forms left exactly as they were.

Torch forms: each case is one expression `fn(x, *others)` run on torch tensors and on JAX
arrays, eagerly and inside `jax.jit`; values compared at rtol=1e-5, atol=1e-6 (ints, bools and
shapes exactly), gradients of sum(out · w) for the cases marked `grad`. JAX forms: each case is
a method call JAX accepts and the `jnp` function it means; results must be identical (same
values, dtype and shape), so code that does not use jtorch computes what it did before.
"""

import copy
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch  # noqa: E402
from jtorch import _tensor_methods  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6

# (id, fn(x, *others), shapes, compare the gradient w.r.t. x)
TORCH_FORMS = [
    ("view", lambda x: x.view(-1, 4), [(2, 3, 4)], True),
    ("view_tuple", lambda x: x.view((4, 6)), [(2, 3, 4)], False),
    ("view_size", lambda x: x.view(x.size(0), -1), [(2, 3, 4)], False),
    ("view_as", lambda x, y: x.view_as(y), [(2, 6), (3, 4)], False),
    ("size_call", lambda x: tuple(x.size()[1:]) + (x.size(-1),), [(2, 3, 4)], False),
    ("dim_numel", lambda x: (x.dim(), x.numel(), x.nelement()), [(2, 3, 4)], False),
    ("t", lambda x: x.t(), [(2, 3)], True),
    ("permute", lambda x: x.permute(2, 0, 1), [(2, 3, 4)], False),
    ("permute_tuple", lambda x: x.permute((1, 0, 2)), [(2, 3, 4)], False),
    ("transpose_3d", lambda x: x.transpose(1, 2), [(2, 3, 4)], True),
    ("unsqueeze", lambda x: x.unsqueeze(1), [(2, 3)], False),
    ("squeeze_dim", lambda x: x.squeeze(dim=1), [(2, 1, 3)], False),
    ("squeeze_keep", lambda x: x.squeeze(0), [(2, 1, 3)], False),
    ("flatten_1", lambda x: x.flatten(1), [(2, 3, 4)], True),
    ("narrow", lambda x: x.narrow(1, 1, 2), [(2, 4)], True),
    ("masked_fill", lambda x: x.masked_fill(x > 0, 0.0), [(3, 4)], True),
    ("float_long", lambda x: (x * 3).long().float(), [(3, 4)], False),
    ("int_bool", lambda x: ((x > 0).int(), x.bool()), [(3, 4)], False),
    ("double_half", lambda x: x.half().float(), [(3, 4)], False),
    ("to_dtype", lambda x: x.to(torch_or_jtorch(x).float16).float(), [(3, 4)], False),
    ("to_device", lambda x: x.to("cpu"), [(3, 4)], False),
    ("type_as", lambda x, y: (y > 0).type_as(x), [(3, 4), (3, 4)], False),
    ("cpu_detach", lambda x: x.cpu().detach().contiguous(), [(3, 4)], False),
    ("data", lambda x: x.data * 2, [(3, 4)], False),
    ("new_zeros", lambda x: x.new_zeros(2, 3), [(3, 4)], False),
    ("new_ones", lambda x: x.new_ones((2,)), [(3, 4)], False),
    ("new_full", lambda x: x.new_full((2, 2), 1.5), [(3, 4)], False),
    ("new_tensor", lambda x: x.new_tensor([1.0, 2.0]), [(3, 4)], False),
    ("expand", lambda x: x.expand(2, -1, 4), [(3, 1)], True),
    ("expand_as", lambda x, y: x.expand_as(y), [(3, 1), (3, 4)], False),
    ("repeat", lambda x: x.repeat(2, 3), [(2, 3)], True),
    ("repeat_3", lambda x: x.repeat(2, 1, 1), [(2, 3)], False),
    ("sum_dim", lambda x: x.sum(dim=1), [(3, 4)], True),
    ("sum_keepdim", lambda x: x.sum(1, keepdim=True), [(3, 4)], False),
    ("mean_dim", lambda x: x.mean(dim=(0, 1)), [(3, 4, 2)], False),
    ("std_dim", lambda x: x.std(dim=0), [(3, 4)], False),
    ("var_unbiased", lambda x: x.var(1, unbiased=False), [(3, 4)], False),
    ("max_dim", lambda x: x.max(dim=1), [(3, 4)], True),
    ("max_keepdim", lambda x: x.max(1, keepdim=True), [(3, 4)], False),
    ("max_other", lambda x, y: x.max(y), [(3, 4), (3, 4)], False),
    ("min_dim", lambda x: x.min(dim=0), [(3, 4)], False),
    ("argmax_dim", lambda x: x.argmax(dim=1), [(3, 4)], False),
    ("argmax_keepdim", lambda x: x.argmax(1, keepdim=True), [(3, 4)], False),
    ("all_any_dim", lambda x: ((x > 0).all(dim=1), (x > 0).any(dim=0)), [(3, 4)], False),
    ("cumsum_dim", lambda x: x.cumsum(dim=1), [(3, 4)], False),
    ("sort_dim", lambda x: x.sort(dim=1), [(3, 4)], True),
    ("argsort_dim", lambda x: x.argsort(dim=0), [(3, 4)], False),
    ("topk", lambda x: x.topk(2), [(3, 4)], True),
    ("pow_exp", lambda x: x.pow(2).exp(), [(3, 4)], True),
    ("abs_sqrt_log", lambda x: x.abs().sqrt().add(1).log(), [(3, 4)], False),
    ("sigmoid_tanh_relu", lambda x: x.sigmoid() + x.tanh() + x.relu(), [(3, 4)], False),
    ("softmax", lambda x: x.softmax(1) + x.log_softmax(dim=0), [(3, 4)], True),
    ("clamp", lambda x: x.clamp(-0.5, 0.5) + x.clamp(min=0), [(3, 4)], False),
    ("arith", lambda x, y: x.mul(y).sub(x).div(2), [(3, 4), (3, 4)], False),
    (
        "compare",
        lambda x, y: (x.eq(y), x.ne(y), x.gt(y), x.lt(0), x.ge(y), x.le(y)),
        [(3, 4)] * 2,
        False,
    ),
    ("matmul", lambda x, y: x.matmul(y) + x.mm(y), [(3, 4), (4, 2)], True),
    ("bmm", lambda x, y: x.bmm(y), [(2, 3, 4), (2, 4, 2)], False),
    ("split_chunk", lambda x: x.split(2, 1) + x.chunk(2, dim=0), [(4, 5)], False),
    ("norm", lambda x: x.norm() + x.norm(dim=1).sum(), [(3, 4)], True),
    ("gather", lambda x: x.gather(1, x.argsort(dim=1)), [(3, 4)], False),
    ("median_dim", lambda x: x.median(dim=1), [(3, 5)], False),
    ("item_tolist", lambda x: (x.sum().item(), x.tolist()), [(2, 2)], False),
    ("numpy", lambda x: x.numpy().sum(), [(2, 2)], False),
    ("is_cuda", lambda x: x.is_cuda, [(2,)], False),
]


def torch_or_jtorch(x):
    return torch if isinstance(x, torch.Tensor) else jtorch


def _compare(got, want, where="out"):
    if isinstance(want, torch.Tensor):
        want, got = want.detach().numpy(), np.asarray(got)
        assert got.shape == want.shape, f"{where}: shape {got.shape} vs torch {want.shape}"
        assert (got.dtype == np.bool_) == (want.dtype == np.bool_), f"{where}: {got.dtype}"
        np.testing.assert_allclose(got, want, RTOL, ATOL, err_msg=where)
    elif isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), f"{where}: {got!r}"
        if hasattr(want, "values") and hasattr(want, "indices"):
            assert got._fields == ("values", "indices"), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _compare(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        np.testing.assert_allclose(got, want, RTOL, ATOL, err_msg=where)
    else:
        assert got == want, f"{where}: {got!r} vs torch {want!r}"


def _x(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


@pytest.mark.parametrize("name,fn,shapes,grad", TORCH_FORMS, ids=[c[0] for c in TORCH_FORMS])
def test_torch_form_matches_torch(name, fn, shapes, grad):
    xs = _x(shapes)
    want = fn(*[torch.tensor(x) for x in xs])
    _compare(fn(*[jnp.asarray(x) for x in xs]), want, "eager")
    if name not in ("item_tolist", "numpy", "size_call", "dim_numel", "is_cuda"):
        _compare(jax.jit(fn)(*[jnp.asarray(x) for x in xs]), want, "jit")
    if grad:
        x_t = [torch.tensor(x, requires_grad=True) for x in xs]
        out = fn(*x_t)
        out = out[0] if isinstance(out, tuple) else out
        w = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(np.float32)
        (out * torch.tensor(w)).sum().backward()

        def loss(x0):
            o = fn(x0, *[jnp.asarray(x) for x in xs[1:]])
            return jnp.sum((o[0] if isinstance(o, tuple) else o) * w)

        g = jax.grad(loss)(jnp.asarray(xs[0]))
        np.testing.assert_allclose(np.asarray(g), x_t[0].grad.numpy(), RTOL, ATOL)


# (id, method call JAX accepts, what it means in jax.numpy): must stay identical.
JAX_FORMS = [
    ("max_axis", lambda x: x.max(1), lambda x: jnp.max(x, 1)),
    (
        "max_keepdims",
        lambda x: x.max(axis=0, keepdims=True),
        lambda x: jnp.max(x, 0, keepdims=True),
    ),
    ("min", lambda x: x.min(), jnp.min),
    ("sum_axis", lambda x: x.sum(1), lambda x: jnp.sum(x, 1)),
    ("sum_dtype", lambda x: x.sum(0, jnp.float16), lambda x: jnp.sum(x, 0, jnp.float16)),
    ("mean", lambda x: x.mean(axis=(0, 1)), lambda x: jnp.mean(x, (0, 1))),
    ("std", lambda x: x.std(), jnp.std),
    ("var_ddof", lambda x: x.var(ddof=1), lambda x: jnp.var(x, ddof=1)),
    ("prod", lambda x: x.prod(1), lambda x: jnp.prod(x, 1)),
    ("argmax", lambda x: x.argmax(1), lambda x: jnp.argmax(x, 1)),
    (
        "argmin_keepdims",
        lambda x: x.argmin(0, keepdims=True),
        lambda x: jnp.argmin(x, 0, keepdims=True),
    ),
    ("cumsum", lambda x: x.cumsum(1), lambda x: jnp.cumsum(x, 1)),
    (
        "all_any",
        lambda x: ((x > 0).all(1), (x > 0).any()),
        lambda x: (jnp.all(x > 0, 1), jnp.any(x > 0)),
    ),
    ("sort", lambda x: x.sort(1), lambda x: jnp.sort(x, 1)),
    ("sort_descending", lambda x: x.sort(descending=True), lambda x: jnp.sort(x, descending=True)),
    ("argsort", lambda x: x.argsort(0), lambda x: jnp.argsort(x, 0)),
    ("repeat_axis", lambda x: x.repeat(3, 1), lambda x: jnp.repeat(x, 3, 1)),
    ("repeat_flat", lambda x: x.repeat(2), lambda x: jnp.repeat(x, 2)),
    ("transpose_2d_01", lambda x: x.transpose(0, 1), lambda x: jnp.transpose(x, (0, 1))),
    ("transpose_none", lambda x: x.transpose(), jnp.transpose),
    (
        "transpose_3d_perm",
        lambda x: x[None].transpose(2, 0, 1),
        lambda x: jnp.transpose(x[None], (2, 0, 1)),
    ),
    ("flatten", lambda x: x.flatten(), jnp.ravel),
    ("squeeze", lambda x: x[None].squeeze(), lambda x: jnp.squeeze(x[None])),
    ("squeeze_axis", lambda x: x[None].squeeze(0), lambda x: jnp.squeeze(x[None], 0)),
    (
        "view_dtype",
        lambda x: x.view(jnp.int32),
        lambda x: jax.lax.bitcast_convert_type(x, jnp.int32),
    ),
    ("view_none", lambda x: x.view(), lambda x: x),
    ("reshape", lambda x: x.reshape(4, 3), lambda x: jnp.reshape(x, (4, 3))),
    ("size", lambda x: (x.size, x.size * 2, x.size // 5), lambda x: (12, 24, 2)),
]


@pytest.mark.parametrize("name,method,means", JAX_FORMS, ids=[c[0] for c in JAX_FORMS])
def test_jax_forms_keep_their_meaning(name, method, means):
    x = jnp.asarray(_x([(3, 4)])[0])
    for got, want in ((method(x), means(x)), (jax.jit(method)(x), jax.jit(means)(x))):
        got_l, want_l = jax.tree.leaves(got), jax.tree.leaves(want)
        assert len(got_l) == len(want_l)
        for g, w in zip(got_l, want_l, strict=True):
            g, w = jnp.asarray(g), jnp.asarray(w)
            assert g.dtype == w.dtype and g.shape == w.shape, name
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w), err_msg=name)


def test_size_is_an_int_and_callable():
    x = jnp.ones((2, 3))
    assert isinstance(x.size, int) and x.size == 6 and np.zeros(x.size).shape == (6,)
    assert x.size() == jtorch.Size([2, 3]) and repr(x.size()) == "torch.Size([2, 3])"
    assert x.size(-1) == 3 and jax.jit(lambda y: jnp.zeros(y.size(1)))(x).shape == (3,)
    assert type(copy.deepcopy(x.size)) is int and pickle.loads(pickle.dumps(x.size)) == 6


def test_patching_reaches_every_array_class():
    """Fails loudly if a JAX upgrade moves the classes: concrete arrays, and the tracers of jit,
    grad and vmap, all see the methods."""
    assert type(jnp.ones(1)) in _tensor_methods.ARRAY_CLASSES
    for cls in _tensor_methods.ARRAY_CLASSES:
        for name in (*_tensor_methods.NEW_METHODS, *_tensor_methods.TORCH_FORM_METHODS):
            assert hasattr(cls, name), f"{cls.__name__} lacks {name}"
    x = jnp.arange(6.0)

    def f(y):
        return y.view(2, 3).t().sum(dim=0).max(dim=0).values

    assert float(f(x)) == float(jax.jit(f)(x)) == 12.0
    np.testing.assert_array_equal(jax.grad(f)(x), [0, 0, 0, 1, 1, 1])
    rows = jax.vmap(lambda r: r.view(1, 3).sum(dim=0))(x.view(2, 3))
    np.testing.assert_array_equal(rows[1], [3, 4, 5])


def test_parameters_forward_the_methods():
    layer = jtorch.nn.Linear(3, 2)
    w = layer.weight
    assert w.t().shape == (3, 2) and w.view(-1).shape == (6,) and w.unsqueeze(0).shape == (1, 2, 3)


HINT_CASES = [
    ("backward", lambda x: x.backward(), "jtorch.value_and_grad"),
    ("grad", lambda x: x.grad, "get them from `loss, grads"),
    ("add_", lambda x: x.add_(1), r"write `x = x.add\(...\)`"),
    ("zero_", lambda x: x.zero_(), "zeros_like"),
    ("unknown", lambda x: x.no_such_method(), "no attribute '?no_such_method"),
]


@pytest.mark.parametrize("name,call,match", HINT_CASES, ids=[c[0] for c in HINT_CASES])
def test_missing_torch_methods_say_what_to_write(name, call, match):
    x = jnp.ones(3)
    with pytest.raises(AttributeError, match=match):
        call(x)
    with pytest.raises(AttributeError, match=match):
        jax.jit(call)(x)
    assert not hasattr(x, name if name != "unknown" else "no_such_method")
