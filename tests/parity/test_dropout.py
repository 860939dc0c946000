"""Dropout variants. Masks cannot be compared with torch's RNG, so the tests check what defines
them: the values a unit can take (compared with torch exactly, rtol=1e-6), keep rate ≈ 1−p,
channel-wise structure, alpha dropout's mean/variance preservation, eval = identity, a fresh mask
on every call of a compiled step, and the same masks from the same seed.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch  # noqa: E402
import jtorch.nn.functional as F  # noqa: E402
from jtorch import nn  # noqa: E402

# name, input shape, shape of one mask draw (1 where the mask is broadcast)
MODULES = [
    ("Dropout", (8, 16, 50), (8, 16, 50)),
    ("Dropout1d", (40, 50, 6), (40, 50, 1)),
    ("Dropout2d", (40, 50, 3, 2), (40, 50, 1, 1)),
    ("Dropout3d", (40, 50, 2, 2, 2), (40, 50, 1, 1, 1)),
    ("AlphaDropout", (8, 16, 50), (8, 16, 50)),
    ("FeatureAlphaDropout", (40, 50, 3, 2), (40, 50, 1, 1)),
]


def _unique(a, decimals=5):
    return np.unique(np.round(np.asarray(a, dtype=np.float64), decimals))


@pytest.mark.parametrize("name,shape,mask_shape", MODULES, ids=lambda c: str(c))
@pytest.mark.parametrize("p", [0.2, 0.6])
def test_train_mode_values_rate_and_structure_match_torch(name, shape, mask_shape, p):
    jtorch.manual_seed(0)
    jt, th = getattr(nn, name)(p), getattr(torch.nn, name)(p)
    assert repr(jt) == repr(th)
    x = np.full(shape, 1.5, np.float32)
    out_j, out_t = np.asarray(jt(jnp.asarray(x))), th(torch.tensor(x)).numpy()
    # every unit takes one of two values; torch's two values are the same
    np.testing.assert_allclose(_unique(out_j), _unique(out_t), rtol=1e-6)
    kept_value = _unique(out_t)[-1] if "Alpha" not in name else (1.5 * _alpha_a(p) + _alpha_b(p))
    kept = np.isclose(out_j, kept_value, rtol=1e-5)
    # the mask is constant over the broadcast (spatial) dims
    reduce_axes = tuple(i for i, (a, b) in enumerate(zip(shape, mask_shape)) if a != b)
    assert np.all(kept.all(axis=reduce_axes) == kept.any(axis=reduce_axes))
    rate = kept.all(axis=reduce_axes).mean()
    n = int(np.prod(mask_shape))
    assert abs(rate - (1 - p)) < 4 * np.sqrt(p * (1 - p) / n)


def _alpha_a(p):
    return ((1 - p) * (1 + p * 1.7580993408473766**2)) ** -0.5


def _alpha_b(p):
    return 1.7580993408473766 * _alpha_a(p) * p


@pytest.mark.parametrize("name,shape,mask_shape", MODULES, ids=lambda c: str(c))
def test_eval_mode_is_identity(name, shape, mask_shape):
    jt = getattr(nn, name)(0.5).eval()
    x = jnp.asarray(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    np.testing.assert_array_equal(np.asarray(jt(x)), np.asarray(x))
    np.testing.assert_array_equal(np.asarray(jtorch.jit(lambda m, a: m(a))(jt, x)), np.asarray(x))


def test_alpha_dropout_preserves_zero_mean_and_unit_variance():
    x = jnp.asarray(np.random.default_rng(1).standard_normal((400, 500)).astype(np.float32))
    for p in (0.1, 0.5):
        out = F.alpha_dropout(x, p, training=True, key=jax.random.key(3))
        ref = torch.nn.functional.alpha_dropout(torch.tensor(np.asarray(x)), p, training=True)
        assert abs(float(out.mean())) < 0.01 and abs(float(out.std()) - 1) < 0.01
        assert abs(float(out.mean()) - float(ref.mean())) < 0.01
        assert abs(float(out.std()) - float(ref.std())) < 0.01


def test_gradient_is_mask_scaled_like_forward():
    x = jnp.asarray(np.random.default_rng(2).standard_normal((50, 40, 2, 1)).astype(np.float32))
    key = jax.random.key(0)
    for fn in (F.dropout, F.dropout2d, F.alpha_dropout):
        out = fn(x, 0.3, True, key=key)
        g = jax.grad(lambda a, fn=fn: jnp.sum(fn(a, 0.3, True, key=key)))(x)
        slope = (out - fn(jnp.zeros_like(x), 0.3, True, key=key)) / x  # per-unit linear factor
        np.testing.assert_allclose(np.asarray(g), np.asarray(slope), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,shape,mask_shape", MODULES, ids=lambda c: str(c))
def test_compiled_step_draws_a_fresh_mask_each_call_and_seed_repeats_them(name, shape, mask_shape):
    x = jnp.ones(shape)
    step = jtorch.jit(lambda m, a: m(a))  # one compiled function: every model has one structure

    def masks(seed, calls):
        jtorch.manual_seed(seed)
        model = getattr(nn, name)(0.5)
        return [np.asarray(step(model, x)) for _ in range(calls)]

    first = masks(7, 2)
    assert not np.array_equal(first[0], first[1])
    for a, b in zip(first, masks(7, 2)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], masks(8, 1)[0])


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout2d(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.alpha_dropout(jnp.ones(3), -0.1, True, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"dropout1d: expected .*\(2, 3, 4, 5\)"):
        F.dropout1d(jnp.ones((2, 3, 4, 5)), key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"dropout3d: expected .*\(2, 3\)"):
        F.dropout3d(jnp.ones((2, 3)), key=jax.random.key(0))
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        F.dropout2d(jnp.ones((2, 3, 4)), training=False)
    # p = 0 and p = 1 need no key, as in torch
    np.testing.assert_array_equal(np.asarray(F.dropout3d(jnp.ones((2, 3, 2, 2)), 1.0)), 0)
    np.testing.assert_array_equal(np.asarray(F.alpha_dropout(jnp.ones(4), 0.0, True)), 1)


def test_unbatched_channel_dropout_masks_channels():
    x = jnp.ones((200, 3, 2, 2))  # (C, D, H, W) for dropout3d
    out = np.asarray(F.dropout3d(x, 0.5, key=jax.random.key(1)))
    per_channel = out.reshape(200, -1)
    assert np.all((per_channel == 0).all(1) | (per_channel == 2).all(1))
    out1 = np.asarray(F.dropout1d(jnp.ones((300, 7)), 0.5, key=jax.random.key(2)))
    assert np.all((out1 == 0).all(1) | (out1 == 2).all(1))


FUNCTIONAL = [
    (lambda x: F.dropout(x, 0.5), (6, 40)),
    (lambda x: F.dropout2d(x, 0.5), (6, 40, 2, 2)),
    (lambda x: F.alpha_dropout(x, 0.5, True), (6, 40)),
    (lambda x: F.rrelu(-x, training=True), (6, 40)),
    (lambda x: F.scaled_dot_product_attention(x, x, x, dropout_p=0.5), (2, 6, 40)),
]


@pytest.mark.parametrize(
    "fn,shape", FUNCTIONAL, ids=["dropout", "dropout2d", "alpha", "rrelu", "sdpa"]
)
def test_functional_forms_without_a_key_draw_from_the_global_generator(fn, shape):
    """As torch's F.dropout does: fresh masks per call, eagerly and in each call of a
    `jtorch.jit` step, repeated exactly after the same `manual_seed`; a raw `jax.jit` refuses."""
    x = jnp.ones(shape)
    step = jtorch.jit(lambda a: fn(a))

    def draws(seed):
        jtorch.manual_seed(seed)
        return [np.asarray(fn(x)), np.asarray(fn(x)), np.asarray(step(x)), np.asarray(step(x))]

    first = draws(3)
    for a, b in zip(first, first[1:]):
        assert not np.array_equal(a, b)
    for a, b in zip(first, draws(3)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(RuntimeError, match="jtorch.jit"):
        jax.jit(fn)(x)
