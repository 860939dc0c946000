"""Losses under jax.jit, jax.vmap and jtorch.jit; argument checks and their messages."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

import jtorch
import jtorch.nn as nn
import jtorch.nn.functional as F


def _inputs(name, rng):
    """(positional arrays, options) for one call of F.<name> on small random data."""
    f = lambda *s: jnp.asarray(rng.standard_normal(s), jnp.float32)  # noqa: E731
    u = lambda *s: jnp.asarray(rng.uniform(0.05, 0.95, s), jnp.float32)  # noqa: E731
    sign = lambda *s: jnp.asarray(np.where(rng.random(s) < 0.5, -1.0, 1.0), jnp.float32)  # noqa: E731
    idx = lambda c, *s: jnp.asarray(rng.integers(0, c, s), jnp.int32)  # noqa: E731
    table = {
        "cross_entropy": ((f(4, 5), idx(5, 4)), {"weight": u(5), "label_smoothing": 0.1}),
        "nll_loss": ((jax.nn.log_softmax(f(4, 5)), idx(5, 4)), {"ignore_index": 1}),
        "binary_cross_entropy": ((u(4, 3), u(4, 3)), {"weight": u(3)}),
        "binary_cross_entropy_with_logits": ((f(4, 3), u(4, 3)), {"pos_weight": u(3)}),
        "l1_loss": ((f(4, 3), f(4, 3)), {}),
        "mse_loss": ((f(4, 3), f(4, 3)), {"weight": u(4, 3)}),
        "smooth_l1_loss": ((f(4, 3), f(4, 3)), {"beta": 0.5}),
        "huber_loss": ((f(4, 3), f(4, 3)), {"delta": 0.5}),
        "poisson_nll_loss": ((f(4, 3), u(4, 3) * 4), {"full": True}),
        "gaussian_nll_loss": ((f(4, 3), f(4, 3), u(4, 3)), {}),
        "kl_div": ((f(4, 3), u(4, 3)), {"reduction": "batchmean"}),
        "margin_ranking_loss": ((f(5), f(5), sign(5)), {"margin": 0.2}),
        "hinge_embedding_loss": ((f(4, 3), sign(4, 3)), {}),
        "multilabel_margin_loss": ((f(3, 4), jnp.asarray([[3, 0, -1, 1]] * 3)), {}),
        "soft_margin_loss": ((f(4, 3), sign(4, 3)), {}),
        "multilabel_soft_margin_loss": ((f(4, 3), u(4, 3)), {}),
        "cosine_embedding_loss": ((f(4, 3), f(4, 3), sign(4)), {}),
        "multi_margin_loss": ((f(4, 5), idx(5, 4)), {"p": 2, "weight": u(5)}),
        "triplet_margin_loss": ((f(4, 3), f(4, 3), f(4, 3)), {"swap": True}),
        "triplet_margin_with_distance_loss": ((f(4, 3), f(4, 3), f(4, 3)), {}),
        "linear_cross_entropy": (
            (f(4, 3), f(5, 3), idx(5, 4)),
            {"linear_bias": f(5), "label_smoothing": 0.1},
        ),
        "ctc_loss": (
            (
                jax.nn.log_softmax(f(8, 2, 4)),
                jnp.asarray([[1, 2, 2], [3, 1, 0]]),
                jnp.asarray([8, 6]),
                jnp.asarray([3, 2]),
            ),
            {},
        ),
    }
    return table[name]


LOSSES = sorted(set(F.loss.__all__) - {"checked_indices"})


def test_every_listed_loss_is_exported():
    expected = {
        "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
        "l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "poisson_nll_loss",
        "gaussian_nll_loss", "kl_div", "margin_ranking_loss", "hinge_embedding_loss",
        "multilabel_margin_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
        "cosine_embedding_loss", "multi_margin_loss", "triplet_margin_loss",
        "triplet_margin_with_distance_loss", "ctc_loss", "linear_cross_entropy",
    }  # fmt: skip
    assert expected <= set(LOSSES)
    assert all(hasattr(F, name) for name in expected)


@pytest.mark.parametrize("name", LOSSES)
def test_loss_under_jit_and_vmap_equals_eager_loop(name):
    """jax.jit(jax.vmap(F.<loss>)) over 3 stacked problems equals three eager calls
    (rtol 1e-5), with 'none' and 'mean' reductions in one compiled program."""
    rng = np.random.default_rng(1)
    problems = [_inputs(name, rng) for _ in range(3)]
    opts = {k: v for k, v in problems[0][1].items() if not isinstance(v, jax.Array)}
    arrays = [[*p[0], *(v for v in p[1].values() if isinstance(v, jax.Array))] for p in problems]
    keys = [k for k, v in problems[0][1].items() if isinstance(v, jax.Array)]
    n_pos = len(problems[0][0])
    fn = getattr(F, name)

    def call(*a):
        kwargs = {**dict(zip(keys, a[n_pos:])), **opts}
        mean = fn(*a[:n_pos], **{**kwargs, "reduction": kwargs.get("reduction", "mean")})
        return fn(*a[:n_pos], **{**kwargs, "reduction": "none"}), mean

    stacked = [jnp.stack(column) for column in zip(*arrays)]
    got = jax.jit(jax.vmap(call))(*stacked)
    expected = [call(*a) for a in arrays]
    for i in range(2):
        np.testing.assert_allclose(
            np.asarray(got[i]), np.stack([e[i] for e in expected]), rtol=1e-5, atol=1e-6
        )


def test_criterion_inside_jtorch_jit_train_step():
    """A weighted CrossEntropyLoss in a compiled step gives the eager loss and trains."""
    jtorch.manual_seed(0)
    model = nn.Linear(4, 3)
    criterion = nn.CrossEntropyLoss(weight=jnp.asarray([1.0, 2.0, 0.5]), label_smoothing=0.1)
    optimizer = jtorch.optim.SGD(model.parameters(), lr=0.1)
    x = jnp.asarray(np.random.default_rng(0).standard_normal((8, 4)), jnp.float32)
    y = jnp.asarray([0, 1, 2, 1, 0, 2, 1, 0])

    @jtorch.jit
    def train_step(model, optimizer, x, y):
        loss, grads = jtorch.value_and_grad(lambda m: criterion(m(x), y))(model)
        optimizer.step(grads)
        return loss

    eager = float(criterion(model(x), y))
    first = float(train_step(model, optimizer, x, y))
    np.testing.assert_allclose(first, eager, rtol=1e-6)
    for _ in range(5):
        last = float(train_step(model, optimizer, x, y))
    assert last < first


# ---------------------------------------------------------------------- argument checks


@pytest.mark.parametrize("name", LOSSES)
def test_invalid_reduction_raises_value_error_naming_it(name):
    args, opts = _inputs(name, np.random.default_rng(0))
    with pytest.raises(ValueError, match="elementwise"):
        getattr(F, name)(*args, **{**opts, "reduction": "elementwise"})


@pytest.mark.parametrize("cls_name", sorted(nn.modules.loss.__all__))
def test_invalid_reduction_raises_at_construction(cls_name):
    args = (3, 4) if cls_name == "LinearCrossEntropyLoss" else ()  # in_features, num_classes
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        getattr(nn, cls_name)(*args, reduction="avg")
    if cls_name == "KLDivLoss":
        assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"


# (function, input shape, bad target, options, allowed range in the message)
OUT_OF_RANGE = [
    ("cross_entropy", (3, 4), [0, 5, 1], {}, r"\[0, 3\] or ignore_index=-100"),
    ("cross_entropy", (3, 4, 2), [[0, 1], [-2, 1], [0, 0]], {"ignore_index": 1}, r"\[0, 3\]"),
    ("nll_loss", (3, 4), [4, 0, 1], {}, r"\[0, 3\]"),
    ("multi_margin_loss", (3, 4), [0, 1, 7], {}, r"\[0, 3\]"),
    ("multilabel_margin_loss", (2, 4), [[0, 4, -1, 0], [1, -1, 0, 0]], {}, r"\[-1, 3\]"),
]


@pytest.mark.parametrize("name,shape,target,opts,allowed", OUT_OF_RANGE, ids=lambda v: str(v))
def test_out_of_range_class_index_raises_outside_jit_and_under_checkify(
    name, shape, target, opts, allowed
):
    x = jnp.asarray(np.random.default_rng(0).standard_normal(shape), jnp.float32)
    t = jnp.asarray(target, jnp.int32)
    fn = getattr(F, name)
    with pytest.raises(IndexError, match=rf"{name}: target -?\d+ is out of bounds.*{allowed}"):
        fn(x, t, **opts)
    with F.checked_indices():
        checked = checkify.checkify(jax.jit(lambda x, t: fn(x, t, **opts)))
        err, _ = checked(x, t)
        good_err, good = checked(x, jnp.zeros_like(t))
    assert err.get() is not None and "is out of bounds" in err.get()
    assert good_err.get() is None
    np.testing.assert_allclose(good, fn(x, jnp.zeros_like(t), **opts), rtol=1e-6)


def test_checked_indices_inside_a_jtorch_jit_step():
    model, criterion = nn.Linear(3, 4), nn.CrossEntropyLoss()

    def loss_fn(m, x, t):
        return criterion(m(x), t)

    with F.checked_indices():
        step = jtorch.jit(lambda m, x, t: checkify.checkify(loss_fn)(m, x, t))
        err, _ = step(model, jnp.ones((2, 3)), jnp.asarray([0, 7]))
    with pytest.raises(checkify.JaxRuntimeError, match="target 7 is out of bounds"):
        err.throw()


def test_ignore_index_is_in_range_and_checks_are_off_by_default_inside_jit():
    x = jnp.ones((3, 4))
    assert np.isfinite(F.cross_entropy(x, jnp.asarray([0, -100, 3])))
    assert np.isfinite(F.nll_loss(x, jnp.asarray([7, 0, 1]), ignore_index=7))
    jax.jit(F.cross_entropy)(x, jnp.asarray([0, 9, 3]))  # unchecked: no error, no host sync


@pytest.mark.parametrize(
    "name,args",
    [
        ("l1_loss", (jnp.ones((3, 4)), jnp.ones((4,)))),
        ("mse_loss", (jnp.ones((3, 4)), jnp.ones((3, 1)))),
        ("smooth_l1_loss", (jnp.ones((3, 4)), jnp.ones((4, 3)))),
        ("huber_loss", (jnp.ones((3, 4)), jnp.ones((4,)))),
        ("binary_cross_entropy", (jnp.full((3, 4), 0.5), jnp.ones((3,)))),
        ("binary_cross_entropy_with_logits", (jnp.ones((3, 4)), jnp.ones((3, 1)))),
        ("soft_margin_loss", (jnp.ones((3, 4)), jnp.ones((4,)))),
        ("kl_div", (jnp.ones((3, 4)), jnp.ones((1, 4)))),
        ("poisson_nll_loss", (jnp.ones((3, 4)), jnp.ones((4,)))),
        ("hinge_embedding_loss", (jnp.ones((3, 4)), jnp.ones((4,)))),
        ("multilabel_soft_margin_loss", (jnp.ones((3, 4)), jnp.ones((3, 5)))),
        ("cross_entropy", (jnp.ones((3, 4)), jnp.zeros((4,), jnp.int32))),
        ("nll_loss", (jnp.ones((3, 4, 2)), jnp.zeros((3, 4), jnp.int32))),
        ("multi_margin_loss", (jnp.ones((3, 4)), jnp.zeros((4,), jnp.int32))),
        ("multilabel_margin_loss", (jnp.ones((3, 4)), jnp.zeros((3, 5), jnp.int32))),
        ("margin_ranking_loss", (jnp.ones((3,)), jnp.ones((4,)), jnp.ones((3,)))),
        ("cosine_embedding_loss", (jnp.ones((3, 4)), jnp.ones((3, 5)), jnp.ones((3,)))),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_mismatched_shapes_raise_value_error_naming_both(name, args):
    with pytest.raises(ValueError) as err:
        getattr(F, name)(*args)
    message = str(err.value)
    assert str(tuple(args[0].shape)) in message and str(tuple(args[1].shape)) in message


def test_other_argument_checks():
    x = jnp.ones((3, 4))
    with pytest.raises(ValueError, match=r"`weight` has shape \(3,\), expected \(4,\)"):
        F.cross_entropy(x, jnp.zeros(3, jnp.int32), weight=jnp.ones(3))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, jnp.zeros(3, jnp.int32), label_smoothing=1.5)
    with pytest.raises(ValueError, match="floating"):
        F.cross_entropy(x, jnp.zeros((3, 4), jnp.int32))
    with pytest.raises(ValueError, match="ignore_index is not supported"):
        F.cross_entropy(x, jnp.zeros((3, 4)), ignore_index=0)
    with pytest.raises(ValueError, match="integer"):
        F.nll_loss(x, jnp.zeros(3))
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        F.multi_margin_loss(x, jnp.zeros(3, jnp.int32), p=3)
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="margin"):
        nn.TripletMarginLoss(margin=0.0)
    with pytest.raises(ValueError, match="margin"):
        F.triplet_margin_with_distance_loss(x, x, x, margin=-1.0)
    with pytest.raises(ValueError, match="same number of dimensions"):
        F.triplet_margin_loss(x, x, jnp.ones(4))
    with pytest.raises(ValueError, match="var has negative"):
        F.gaussian_nll_loss(x, x, -jnp.ones((3, 4)))
    with pytest.raises(ValueError, match="incorrect size"):
        F.gaussian_nll_loss(x, x, jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="beta"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        F.l1_loss(x, x, weight=jnp.ones(4))
    with pytest.raises(ValueError, match="pos_weight"):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=jnp.ones(3))
    with pytest.raises(ValueError, match="batchmean"):
        F.mse_loss(x, x, reduction="batchmean")
    with pytest.raises(ValueError, match="blank"):
        F.ctc_loss(jnp.zeros((5, 2, 3)), jnp.ones((2, 2), jnp.int32), [5, 5], [2, 2], blank=3)


def test_deprecated_arguments_warn_and_map():
    x = jnp.asarray([[1.0, 2.0], [3.0, 5.0]])
    y = jnp.zeros((2, 2))
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert float(F.l1_loss(x, y, size_average=False)) == 11.0
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert F.mse_loss(x, y, None, False).shape == (2, 2)
    with pytest.warns(UserWarning, match="reduction='mean'"):
        assert nn.L1Loss(size_average=True).reduction == "mean"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nn.L1Loss(reduction="sum").reduction == "sum"


def test_kl_div_mean_warns_like_torch():
    x = jnp.zeros((2, 3))
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(x, x)


def test_ctc_infeasible_is_inf_or_zeroed():
    """An input shorter than its target: inf, or 0 with a zero gradient under zero_infinity."""
    lp = jax.nn.log_softmax(jnp.zeros((2, 1, 3)))
    args = (jnp.asarray([[1, 2, 1]]), jnp.asarray([2]), jnp.asarray([3]))
    assert float(F.ctc_loss(lp, *args, reduction="sum")) == np.inf
    value, grad = jax.value_and_grad(
        lambda v: F.ctc_loss(v, *args, reduction="sum", zero_infinity=True)
    )(lp)
    assert float(value) == 0.0 and not np.any(np.asarray(grad))


def test_loss_modules_accept_numpy_weights_and_list_lengths():
    criterion = nn.NLLLoss(weight=np.ones(3, np.float32))
    assert float(criterion(jnp.zeros((2, 3)), jnp.asarray([0, 1]))) == 0.0
    ctc = nn.CTCLoss(reduction="none")
    out = ctc(jax.nn.log_softmax(jnp.zeros((4, 2, 3))), jnp.asarray([1, 2, 1]), [4, 4], [2, 1])
    assert out.shape == (2,)
