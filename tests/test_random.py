"""Random functions (torch.rand/randn/…): torch's call forms, shapes and distributions, and draws
from the global generator inside `jtorch.jit`-compiled and differentiated functions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

import jtorch
from jtorch import nn

# (name, positional args, kwargs, [low, high) of integer results) called identically on torch
# and jtorch; int64 results are int32 in jtorch (without jax_enable_x64)
CALL_CASES = [
    ("rand", (2, 3), {}, (0, 1)),
    ("rand", ([4],), {"dtype": "float16"}, (0, 1)),
    ("randn", ((3, 1, 2),), {}, None),
    ("randint", (10, (5,)), {}, (0, 10)),
    ("randint", (-3, 4, (2, 2)), {}, (-3, 4)),
    ("randperm", (7,), {}, (0, 7)),
    ("normal", (2.0, 3.0, (4, 2)), {}, None),
    ("rand_like", ("float_2x3",), {}, (0, 1)),
    ("randn_like", ("float_2x3",), {}, None),
    ("randint_like", ("float_2x3", 5), {}, (0, 5)),
    ("randint_like", ("int_4", 2, 9), {}, (2, 9)),
    ("bernoulli", ("probs_3x4",), {}, (0, 2)),
    ("bernoulli", ("float_2x3", 0.3), {}, (0, 2)),
    ("multinomial", ("weights_5", 3), {}, (0, 5)),
    ("multinomial", ("weights_2x5", 4, True), {}, (0, 5)),
]


def _inputs(lib):
    arr = (lambda a: torch.tensor(a)) if lib is torch else jnp.asarray
    rng = np.random.default_rng(0)
    return {
        "float_2x3": arr(rng.standard_normal((2, 3)).astype(np.float32)),
        "int_4": arr(np.arange(4, dtype=np.int32)),
        "probs_3x4": arr(rng.uniform(size=(3, 4)).astype(np.float32)),
        "weights_5": arr(np.array([0.1, 0.0, 2.0, 1.0, 0.5], np.float32)),
        "weights_2x5": arr(rng.uniform(0.1, 1, size=(2, 5)).astype(np.float32)),
    }


def _call(lib, name, args, kwargs):
    inputs = _inputs(lib)
    args = [inputs.get(a, a) if isinstance(a, str) else a for a in args]
    kwargs = {
        k: getattr(torch if lib is torch else jnp, v) if k == "dtype" else v
        for k, v in kwargs.items()
    }
    return getattr(lib, name)(*args, **kwargs)


def _kind(dtype) -> str:
    return (
        "float" if np.issubdtype(np.dtype(str(dtype).replace("torch.", "")), np.floating) else "int"
    )


@pytest.mark.parametrize("name,args,kwargs,bounds", CALL_CASES, ids=lambda c: str(c))
def test_call_forms_match_torch_shape_kind_and_support(name, args, kwargs, bounds):
    expected = _call(torch, name, args, kwargs)
    got = np.asarray(_call(jtorch, name, args, kwargs))
    assert got.shape == tuple(expected.shape)
    assert _kind(got.dtype) == _kind(expected.dtype)
    if "dtype" in kwargs:
        assert str(got.dtype) == str(expected.dtype).replace("torch.", "")
    if bounds is not None:
        for values in (got, expected.double().numpy()):
            assert values.min() >= bounds[0] and values.max() < bounds[1]
    if name in ("randint", "randint_like", "bernoulli"):
        assert np.array_equal(got, np.round(got))  # integral values, also in float dtypes
    if name == "randperm":
        assert sorted(got.tolist()) == sorted(expected.tolist())  # both permutations of 0..n-1
    if name == "bernoulli":
        assert set(np.unique(got)) <= {0.0, 1.0}
    if name == "multinomial":
        if args[0] == "weights_5":
            assert not (got == 1).any()  # weight 0 is never drawn
        if len(args) == 2:
            assert len(set(got.tolist())) == args[1]  # without replacement: distinct


# (name, call on a library) whose first two moments are compared with torch's samples
MOMENT_CASES = [
    ("rand", lambda lib: lib.rand(20000)),
    ("randn", lambda lib: lib.randn(20000)),
    ("normal_arrays", lambda lib: lib.normal(lib.full((20000,), 2.0), lib.full((20000,), 0.5))),
    ("normal_scalars", lambda lib: lib.normal(-1.0, 3.0, (20000,))),
    ("bernoulli_p", lambda lib: lib.bernoulli(lib.full((20000,), 0.3))),
    ("randint", lambda lib: lib.randint(0, 7, (20000,)) * 1.0),
    (
        "multinomial",
        lambda lib: lib.multinomial(lib.tensor([1.0, 2.0, 0.0, 5.0]), 20000, True) * 1.0,
    ),
]


@pytest.mark.parametrize("name,draw", MOMENT_CASES, ids=[c[0] for c in MOMENT_CASES])
def test_sample_moments_match_torch(name, draw):
    """Mean and std of 20000 samples agree with torch's samples (atol 0.05·scale, ~5 sigma)."""
    torch.manual_seed(0)
    jtorch.manual_seed(0)
    expected = draw(torch).double().numpy()
    got = np.asarray(draw(jtorch), np.float64)
    scale = max(expected.std(), 1e-3)
    np.testing.assert_allclose(got.mean(), expected.mean(), atol=0.05 * scale)
    np.testing.assert_allclose(got.std(), expected.std(), rtol=0.05)


def test_keys_are_the_ones_nnx_rngs_hands_out():
    """The global generator draws `fold_in(key(seed), n)`, as `nnx.Rngs(seed)` did before."""
    jtorch.manual_seed(3)
    rngs = nnx.Rngs(3)
    for _ in range(3):
        ours = jtorch._random.next_key()
        np.testing.assert_array_equal(jax.random.key_data(ours), jax.random.key_data(rngs()))


def test_jit_draws_fresh_numbers_every_call_and_reproduces_under_manual_seed():
    @jtorch.jit
    def noisy(x):
        return x + jtorch.randn(3) + jtorch.rand(3)  # two draws: distinct keys

    def run():
        jtorch.manual_seed(5)
        first = jtorch.randn(2)  # an eager draw before, one after: the counter is shared
        outs = [noisy(jnp.zeros(3)) for _ in range(3)]
        return first, outs, jtorch.randn(2)

    a, b = run(), run()
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)
    outs = a[1]
    assert not np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[1], outs[2])
    assert not np.array_equal(a[0], a[2])


def test_randn_like_inside_value_and_grad_eager_and_compiled():
    """A VAE's reparameterisation: eps = randn_like(std) inside a differentiated forward."""
    jtorch.manual_seed(0)
    model = nn.Linear(4, 2)
    x = jtorch.randn(3, 4)

    def loss_fn(m, x):
        mu = m(x)
        eps = jtorch.randn_like(mu)
        return jnp.sum((mu + 0.5 * eps) ** 2), eps

    (loss, eps), grads = jtorch.value_and_grad(loss_fn, has_aux=True)(model, x)
    w, b = model.weight.value, model.bias.value
    mu = x @ w.T + b
    ref = jax.grad(lambda w: jnp.sum((x @ w.T + b + 0.5 * eps) ** 2))(w)
    np.testing.assert_allclose(grads["weight"], ref, rtol=1e-5)
    np.testing.assert_allclose(loss, jnp.sum((mu + 0.5 * eps) ** 2), rtol=1e-6)

    step = jtorch.jit(lambda m, x: jtorch.value_and_grad(loss_fn, has_aux=True)(m, x)[0][1])
    e1, e2 = step(model, x), step(model, x)
    assert e1.shape == (3, 2) and not np.array_equal(e1, e2)


def test_nested_jit_draws_from_the_outer_call():
    inner = jtorch.jit(lambda x: x + jtorch.randn(2))
    outer = jtorch.jit(lambda x: inner(x) + inner(x))
    jtorch.manual_seed(1)
    a, b = outer(jnp.zeros(2)), outer(jnp.zeros(2))
    jtorch.manual_seed(1)
    np.testing.assert_array_equal(outer(jnp.zeros(2)), a)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(
    "transform",
    [jax.jit, lambda f: lambda x: jax.lax.scan(lambda c, _: (f(c), None), x, None, 2)[0]],
    ids=["jax.jit", "lax.scan"],
)
def test_global_draw_inside_another_trace_raises(transform):
    fn = transform(lambda x: x + jtorch.randn(2))
    with pytest.raises(RuntimeError, match=r"jtorch\.jit.*generator="):
        fn(jnp.zeros(2))


def test_explicit_generators_work_inside_jax_jit():
    key = jax.random.key(0)
    out = jax.jit(lambda k: jtorch.randn(2, generator=k))(key)
    np.testing.assert_array_equal(out, jax.random.normal(key, (2,)))
    g1, g2 = jtorch.Generator().manual_seed(4), jtorch.Generator().manual_seed(4)
    np.testing.assert_array_equal(jtorch.rand(3, generator=g1), jtorch.rand(3, generator=g2))
    assert g1.initial_seed() == 4


def test_rng_state_round_trip_eager_and_compiled():
    noisy = jtorch.jit(lambda x: x + jtorch.randn(2))
    jtorch.manual_seed(9)
    jtorch.randn(1)
    state = jtorch.get_rng_state()
    first = (jtorch.randn(3), noisy(jnp.zeros(2)))
    jtorch.manual_seed(123)
    jtorch.set_rng_state(state)
    again = (jtorch.randn(3), noisy(jnp.zeros(2)))
    for x, y in zip(first, again):
        np.testing.assert_array_equal(x, y)
    assert jtorch.initial_seed() == 9 and jtorch.random.initial_seed() == 9
    with jtorch.random.fork_rng():
        jtorch.randn(5)
    np.testing.assert_array_equal(jtorch.get_rng_state(), jtorch.random.get_rng_state())


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: jtorch.set_rng_state(np.zeros(3, np.uint8)), "uint32 array of shape"),
        (lambda: jtorch.manual_seed(1.5), "`seed` must be an int"),
        (lambda: jtorch.randint(5, 5, (2,)), "low < high"),
        (lambda: jtorch.randint(5), "`size` is required"),
        (lambda: jtorch.randn(2, out=jnp.zeros(2)), "`out=` is not supported"),
        (lambda: jtorch.randn(2, generator="x"), "`generator` must be"),
        (lambda: jtorch.multinomial(jnp.ones(3), 4), "num_samples=4 > 3"),
        (lambda: jtorch.multinomial(jnp.array([1.0, -1.0]), 1), "non-negative"),
        (lambda: jtorch.multinomial(jnp.array([1.0, 0.0, 0.0]), 2), "fewer than"),
        (lambda: jtorch.bernoulli(jnp.array([1.5])), r"\[0, 1\]"),
        (lambda: jtorch.normal(jnp.zeros(2), -1.0), "`std` must be non-negative"),
        (lambda: jtorch.normal(jnp.zeros(2), 1.0, (3,)), "`size` is only allowed"),
        (lambda: jtorch.randperm(-1), "`n` must be"),
    ],
)
def test_bad_arguments_name_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_import_jtorch_makes_func_and_random_available():
    """(A fresh process checks the same in tests/train/test_resume.py.)"""
    assert {"func", "random"} <= set(jtorch.__all__)
    assert jtorch.func.functional_call and jtorch.random.manual_seed is jtorch.manual_seed
