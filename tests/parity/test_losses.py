"""Every loss in jtorch.nn.functional against torch.nn.functional on random inputs.

Each case is called by keyword with the same arrays in both libraries, for every reduction;
forward values are compared at float32 rtol=1e-5 (CTC 1e-4), and gradients of every
differentiable input (of Σ cotangent·loss, with a random cotangent) at rtol=1e-4.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jtorch
import jtorch.nn as jnn
import jtorch.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

VALUE_RTOL, GRAD_RTOL, ATOL = 1e-5, 1e-4, 1e-6
CTC_RTOL, CTC_ATOL = 1e-4, 1e-5


@dataclass(frozen=True)
class Both:
    """An option that differs per library (a distance function)."""

    torch_value: Any
    jax_value: Any


# ---------------------------------------------------------------------- input builders


def _f(rng, *shape, low=None, high=None):
    if low is not None:
        return rng.uniform(low, high, shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def _log_softmax(x, axis):
    x = x - x.max(axis=axis, keepdims=True)
    return (x - np.log(np.exp(x).sum(axis=axis, keepdims=True))).astype(np.float32)


def _classes(rng, n_classes, shape, ignore=None):
    t = rng.integers(0, n_classes, shape)
    if ignore is not None:
        t = np.where(rng.random(shape) < 0.3, ignore, t)
    return t.astype(np.int64)


def _probs(rng, shape, axis=1):
    return np.exp(_log_softmax(_f(rng, *shape), axis))


def ce_index(ignore=None, k_dims=(), weight=False, unbatched=False):
    def make(rng):
        n, c = 4, 5
        shape, tshape = ((c,), ()) if unbatched else ((n, c, *k_dims), (n, *k_dims))
        t = _classes(rng, c, tshape, ignore)
        if ignore is not None and t.size:
            t.flat[0] = 0  # keep at least one target so 'mean' is finite
        d = {"input": _f(rng, *shape), "target": t}
        if weight:
            d["weight"] = _f(rng, c, low=0.2, high=2.0)
        return d, ("input", "weight") if weight else ("input",)

    return make


def ce_probs(k_dims=(), weight=False):
    def make(rng):
        n, c = 4, 5
        d = {"input": _f(rng, n, c, *k_dims), "target": _probs(rng, (n, c, *k_dims))}
        if weight:
            d["weight"] = _f(rng, c, low=0.2, high=2.0)
        return d, ("input", "target", "weight") if weight else ("input", "target")

    return make


def nll(ignore=None, k_dims=(), weight=False):
    base = ce_index(ignore, k_dims, weight)

    def make(rng):
        d, diff = base(rng)
        d["input"] = _log_softmax(d["input"], 1)
        return d, diff

    return make


def pair(shape=(4, 5), weight=None, target=None, input_range=None):
    """input/target of one shape; `target`/`input_range` pick special domains."""

    def make(rng):
        x = (
            _f(rng, *shape)
            if input_range is None
            else _f(rng, *shape, low=input_range[0], high=input_range[1])
        )
        if target == "unit":
            y = _f(rng, *shape, low=0.0, high=1.0)
        elif target == "sign":
            y = np.where(rng.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)
        elif target == "binary":
            y = (rng.random(shape) < 0.5).astype(np.float32)
        elif target == "counts":
            # no zeros: torch's `full` target gradient is NaN at 0 (jtorch's is finite)
            y = _f(rng, *shape, low=0.5, high=5.0)
        elif target == "probs":
            y = _probs(rng, shape, axis=-1)
        else:
            y = _f(rng, *shape)
        d = {"input": x, "target": y}
        diff = ["input"] if target in ("sign", "binary") else ["input", "target"]
        if weight is not None:
            d["weight"] = _f(rng, *weight, low=0.2, high=2.0)
            diff.append("weight")
        return d, tuple(diff)

    return make


def bce_logits(weight=None, pos_weight=None):
    base = pair((4, 5), weight=weight, target="unit")

    def make(rng):
        d, diff = base(rng)
        d["input"] = d["input"] * 3
        if pos_weight is not None:
            d["pos_weight"] = _f(rng, *pos_weight, low=0.2, high=3.0)
            diff = (*diff, "pos_weight")
        return d, diff

    return make


def gaussian(var_shape, full_shape=(4, 5)):
    def make(rng):
        d = {"input": _f(rng, *full_shape), "target": _f(rng, *full_shape)}
        d["var"] = _f(rng, *var_shape, low=1e-7, high=2.0)  # some below eps: clamped
        return d, ("input", "target", "var")

    return make


def gaussian_float_var(rng):
    return {"input": _f(rng, 4, 5), "target": _f(rng, 4, 5), "var": 0.7}, ("input", "target")


def ranking(shape=(4,)):
    def make(rng):
        d = {"input1": _f(rng, *shape), "input2": _f(rng, *shape)}
        d["target"] = np.where(rng.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)
        return d, ("input1", "input2")

    return make


def cosine(batched=True):
    def make(rng):
        shape, tshape = ((4, 5), (4,)) if batched else ((5,), ())
        d = {"input1": _f(rng, *shape), "input2": _f(rng, *shape)}
        d["target"] = np.where(rng.random(tshape) < 0.5, -1.0, 1.0).astype(np.float32)
        return d, ("input1", "input2")

    return make


def multilabel(batched=True):
    def make(rng):
        n, c = 4, 5
        t = np.stack(
            [
                np.concatenate(
                    [rng.permutation(c)[: rng.integers(0, c + 1)], -np.ones(c, np.int64)]
                )[:c]
                for _ in range(n)
            ]
        )
        t[:, -1] = np.where(rng.random(n) < 0.5, t[:, -1], rng.integers(0, c, n))  # after −1
        x = _f(rng, n, c)
        if not batched:
            x, t = x[0], t[0]
        return {"input": x, "target": t.astype(np.int64)}, ("input",)

    return make


def multiclass(batched=True, weight=False):
    def make(rng):
        n, c = 4, 5
        d = {"input": _f(rng, n, c) if batched else _f(rng, c)}
        d["target"] = _classes(rng, c, (n,) if batched else ())
        if weight:
            d["weight"] = _f(rng, c, low=0.2, high=2.0)
        return d, ("input", "weight") if weight else ("input",)

    return make


def triplet(shape=(4, 5)):
    def make(rng):
        d = {"anchor": _f(rng, *shape), "positive": _f(rng, *shape), "negative": _f(rng, *shape)}
        return d, ("anchor", "positive", "negative")

    return make


def ctc(padded=True, blank=0, short_inputs=False):
    def make(rng):
        t_len, n, c, s = 12, 4, 6, 5
        labels = [x for x in range(c) if x != blank]
        x = _log_softmax(_f(rng, t_len, n, c), 2)
        tl = rng.integers(1, s + 1, n)
        tl[0] = 0 if not short_inputs else tl[0]  # an empty target
        il = rng.integers(t_len - 3, t_len + 1, n)
        il[1] = t_len
        if short_inputs:
            il[-1], tl[-1] = 2, s  # infeasible: inf, zeroed with zero_infinity
        tg = rng.choice(labels, (n, s))
        tg[2, 1] = tg[2, 0]  # a repeated label needs a blank between
        if not padded:
            tg = np.concatenate([tg[i, : tl[i]] for i in range(n)])
        d = {"log_probs": x, "targets": tg.astype(np.int64)}
        d["input_lengths"] = il.astype(np.int64)
        d["target_lengths"] = tl.astype(np.int64)
        return d, ("log_probs",)

    return make


def _cos_dist_torch(a, b):
    return 1 - TF.cosine_similarity(a, b, dim=-1)


def _cos_dist_jax(a, b):
    num = jnp.sum(a * b, -1)
    return 1 - num / jnp.maximum(jnp.linalg.norm(a, axis=-1) * jnp.linalg.norm(b, axis=-1), 1e-8)


# (name, builder, options); each runs for every reduction in REDUCTIONS (or its own list)
CASES = [
    ("cross_entropy", ce_index(), {}),
    ("cross_entropy", ce_index(ignore=2, weight=True), {"ignore_index": 2}),
    ("cross_entropy", ce_index(), {"label_smoothing": 0.1}),
    ("cross_entropy", ce_index(ignore=-100, weight=True), {"label_smoothing": 0.2}),
    ("cross_entropy", ce_index(ignore=-100, k_dims=(3, 2), weight=True), {"label_smoothing": 0.1}),
    ("cross_entropy", ce_index(unbatched=True), {}),
    ("cross_entropy", ce_probs(), {}),
    ("cross_entropy", ce_probs(weight=True), {"label_smoothing": 0.15}),
    ("cross_entropy", ce_probs(k_dims=(2, 2)), {"label_smoothing": 0.1}),
    ("nll_loss", nll(), {}),
    ("nll_loss", nll(ignore=-100, weight=True), {}),
    ("nll_loss", nll(ignore=1, k_dims=(2, 3), weight=True), {"ignore_index": 1}),
    ("binary_cross_entropy", pair(target="unit", input_range=(0.02, 0.98)), {}),
    ("binary_cross_entropy", pair(weight=(4, 5), target="unit", input_range=(0.02, 0.98)), {}),
    ("binary_cross_entropy", pair(weight=(5,), target="binary", input_range=(0.02, 0.98)), {}),
    ("binary_cross_entropy_with_logits", bce_logits(), {}),
    ("binary_cross_entropy_with_logits", bce_logits(weight=(4, 5)), {}),
    ("binary_cross_entropy_with_logits", bce_logits(pos_weight=(5,)), {}),
    ("binary_cross_entropy_with_logits", bce_logits(weight=(5,), pos_weight=(5,)), {}),
    ("l1_loss", pair(), {}),
    ("l1_loss", pair(weight=(4, 5)), {}),
    ("mse_loss", pair((4, 5, 2)), {}),
    ("mse_loss", pair(weight=(4, 5)), {}),
    ("smooth_l1_loss", pair(), {}),
    ("smooth_l1_loss", pair(), {"beta": 0.5}),
    ("smooth_l1_loss", pair(), {"beta": 0.0}),
    ("huber_loss", pair(), {}),
    ("huber_loss", pair(), {"delta": 0.4}),
    ("huber_loss", pair(weight=(4, 5)), {"delta": 1.5}),
    ("poisson_nll_loss", pair(), {}),
    ("poisson_nll_loss", pair(target="counts", input_range=(0.1, 3.0)), {"log_input": False}),
    ("poisson_nll_loss", pair(target="counts"), {"full": True}),
    (
        "poisson_nll_loss",
        pair(target="counts", input_range=(0.1, 3.0)),
        {"log_input": False, "full": True, "eps": 1e-4},
    ),
    ("gaussian_nll_loss", gaussian((4, 5)), {}),
    ("gaussian_nll_loss", gaussian((4,)), {"full": True}),
    ("gaussian_nll_loss", gaussian((4, 1)), {"eps": 1e-3}),
    ("gaussian_nll_loss", gaussian_float_var, {}),
    ("kl_div", pair(target="probs"), {}),
    ("kl_div", pair(), {"log_target": True}),
    ("margin_ranking_loss", ranking(), {}),
    ("margin_ranking_loss", ranking(), {"margin": 0.5}),
    ("hinge_embedding_loss", pair(target="sign"), {}),
    ("hinge_embedding_loss", pair(target="sign"), {"margin": 0.3}),
    ("multilabel_margin_loss", multilabel(), {}),
    ("multilabel_margin_loss", multilabel(batched=False), {}),
    ("soft_margin_loss", pair(target="sign"), {}),
    ("multilabel_soft_margin_loss", pair(target="binary"), {}),
    ("multilabel_soft_margin_loss", pair(target="binary", weight=(5,)), {}),
    ("cosine_embedding_loss", cosine(), {}),
    ("cosine_embedding_loss", cosine(), {"margin": 0.2}),
    ("cosine_embedding_loss", cosine(batched=False), {"margin": -0.5}),
    ("multi_margin_loss", multiclass(), {}),
    ("multi_margin_loss", multiclass(weight=True), {"p": 2, "margin": 0.7}),
    ("multi_margin_loss", multiclass(batched=False), {"margin": 1.5}),
    ("triplet_margin_loss", triplet(), {}),
    ("triplet_margin_loss", triplet(), {"p": 1, "margin": 2.0, "swap": True}),
    ("triplet_margin_loss", triplet((5,)), {"p": 3, "eps": 1e-3}),
    ("triplet_margin_with_distance_loss", triplet(), {}),
    ("triplet_margin_with_distance_loss", triplet(), {"swap": True, "margin": 0.5}),
    (
        "triplet_margin_with_distance_loss",
        triplet(),
        {"distance_function": Both(_cos_dist_torch, _cos_dist_jax)},
    ),
    ("ctc_loss", ctc(), {}),
    ("ctc_loss", ctc(padded=False), {}),
    ("ctc_loss", ctc(blank=3), {"blank": 3}),
    ("ctc_loss", ctc(short_inputs=True), {"zero_infinity": True}),
]

REDUCTIONS = ("mean", "sum", "none")
WEIGHT_DIFFERENTIABLE = ("l1_loss", "mse_loss", "huber_loss", "multilabel_soft_margin_loss")


def _case_id(case):
    name, _, opts = case
    text = ",".join(f"{k}={getattr(v, 'jax_value', v)!r}"[:24] for k, v in opts.items())
    return f"{name}[{text}]"


def _torch_loss(name, inputs, diff, opts, reduction, cot):
    tensors = {
        k: torch.tensor(v, requires_grad=k in diff) if isinstance(v, np.ndarray) else v
        for k, v in inputs.items()
    }
    opts = {k: v.torch_value if isinstance(v, Both) else v for k, v in opts.items()}
    out = getattr(TF, name)(**tensors, **opts, reduction=reduction)
    if not diff:
        return out.detach().numpy(), []
    grads = torch.autograd.grad((out * torch.tensor(cot)).sum(), [tensors[k] for k in diff])
    return out.detach().numpy(), [g.numpy() for g in grads]


def _jax_loss(name, inputs, diff, opts, reduction, cot):
    fixed = {k: v for k, v in inputs.items() if k not in diff}
    opts = {k: v.jax_value if isinstance(v, Both) else v for k, v in opts.items()}

    def loss(params):
        return getattr(F, name)(**fixed, **params, **opts, reduction=reduction)

    def objective(params):
        out = loss(params)
        return jnp.sum(out * cot), out

    params = {k: jnp.asarray(inputs[k]) for k in diff}
    grads, out = jax.grad(objective, has_aux=True)(params)
    return np.asarray(out), [np.asarray(grads[k]) for k in diff]


def _compare(case, reduction, seed):
    name, build, opts = case
    rng = np.random.default_rng(seed)
    inputs, diff = build(rng)
    if name not in WEIGHT_DIFFERENTIABLE:  # torch refuses gradients for these weights
        diff = tuple(k for k in diff if k not in ("weight", "pos_weight"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' warns in both libraries
        expected, _ = _torch_loss(name, inputs, (), opts, reduction, np.float32(1))
        cot = _f(rng, *expected.shape)
        expected, expected_grads = _torch_loss(name, inputs, diff, opts, reduction, cot)
        got, got_grads = _jax_loss(name, inputs, diff, opts, reduction, cot)
    ctc = name == "ctc_loss"
    rtol, atol = (CTC_RTOL, CTC_ATOL) if ctc else (VALUE_RTOL, ATOL)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg="value")
    for key, g, e in zip(diff, got_grads, expected_grads):
        np.testing.assert_allclose(
            g,
            e,
            rtol=CTC_RTOL if ctc else GRAD_RTOL,
            atol=CTC_ATOL if ctc else ATOL,
            err_msg=f"gradient of {key}",
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CASES, ids=_case_id)
@settings(max_examples=1)
@given(seed=st.integers(0, 2**32 - 1))
def test_loss_matches_torch(case, reduction, seed):
    _compare(case, reduction, seed)


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=3)
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_batchmean_matches_torch(log_target, seed):
    _compare(("kl_div", pair(target="probs"), {"log_target": log_target}), "batchmean", seed)


# ---------------------------------------------------------------------- the seed's examples


def _both(cls_name, *args, **kwargs):
    """(jtorch value, torch value) of nn.<cls_name>(**kwargs)(*args)."""
    got = getattr(jnn, cls_name)(**kwargs)(*[jnp.asarray(a) for a in args])
    expected = getattr(torch.nn, cls_name)(**kwargs)(*[torch.tensor(a) for a in args])
    return float(got), float(expected)


SEED_EXAMPLES = [
    ("MultiLabelMarginLoss", ([[0.9, 0.2, 0.4, 0.8]], [[3, 0, -1, 1]]), 0.4500),
    ("SoftMarginLoss", ([[0.3, 0.7], [0.5, 0.5]], [[-1.0, 1.0], [1.0, -1.0]]), 0.6764),
    ("MultiMarginLoss", ([[0.3, 0.7], [0.5, 0.5]], [0, 1]), 0.6000),
    ("HingeEmbeddingLoss", ([[1.0, 0.8, 0.5]], [[1, 1, -1]]), 0.7667),
    (
        "CosineEmbeddingLoss",
        ([[0.3, 0.5, 0.7], [0.3, 0.5, 0.7]], [[0.1, 0.3, 0.5], [0.1, 0.3, 0.5]], [1.0, -1.0]),
        0.5000,
    ),
    (
        "KLDivLoss",
        ([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]], [[0.9, 0.05, 0.05], [0.1, 0.7, 0.2]]),
        -0.3335,
    ),
]


@pytest.mark.parametrize("cls_name,args,printed", SEED_EXAMPLES, ids=[c[0] for c in SEED_EXAMPLES])
def test_seed_examples_match_torch_and_the_printed_value(cls_name, args, printed):
    """Seed 002 §6: equal to torch's value (rtol 1e-6) and to the printed 4 decimals."""
    args = [
        np.asarray(a, np.float32 if np.asarray(a).dtype.kind == "f" else np.int64) for a in args
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, expected = _both(cls_name, *args)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert round(got, 4) == pytest.approx(printed, abs=1e-9)


@pytest.mark.parametrize(
    "cls_name,kwargs",
    [
        ("CrossEntropyLoss", {}),
        ("CrossEntropyLoss", {"ignore_index": 1, "label_smoothing": 0.1}),
        ("NLLLoss", {}),
        ("BCELoss", {}),
        ("BCEWithLogitsLoss", {}),
        ("L1Loss", {}),
        ("MSELoss", {}),
        ("SmoothL1Loss", {"beta": 0.5}),
        ("HuberLoss", {"delta": 0.5}),
        ("PoissonNLLLoss", {"log_input": False, "full": True, "eps": 1e-6}),
        ("GaussianNLLLoss", {"full": True, "eps": 1e-5}),
        ("KLDivLoss", {"reduction": "batchmean", "log_target": True}),
        ("MarginRankingLoss", {"margin": 0.1}),
        ("HingeEmbeddingLoss", {"margin": 2.0}),
        ("MultiLabelMarginLoss", {}),
        ("SoftMarginLoss", {}),
        ("MultiLabelSoftMarginLoss", {}),
        ("CosineEmbeddingLoss", {"margin": 0.1}),
        ("MultiMarginLoss", {"p": 2, "margin": 0.5}),
        ("TripletMarginLoss", {"margin": 0.5, "p": 1.0, "swap": True}),
        ("TripletMarginWithDistanceLoss", {"swap": True}),
        ("CTCLoss", {"blank": 0, "reduction": "sum", "zero_infinity": True}),
        ("TripletMarginLoss", {"reduction": "none"}),
    ],
    ids=lambda v: v if isinstance(v, str) else ",".join(v),
)
def test_module_matches_torch_module(cls_name, kwargs):
    """nn.<Loss>(**kwargs) equals torch's module on the same inputs (rtol 1e-5)."""
    name = {
        "CrossEntropyLoss": ("cross_entropy", ce_index(ignore=1)),
        "NLLLoss": ("nll_loss", nll()),
        "BCELoss": ("bce", pair(target="unit", input_range=(0.05, 0.95))),
        "BCEWithLogitsLoss": ("bcel", bce_logits()),
        "GaussianNLLLoss": ("g", gaussian((4,))),
        "KLDivLoss": ("k", pair()),
        "MarginRankingLoss": ("m", ranking()),
        "HingeEmbeddingLoss": ("h", pair(target="sign")),
        "MultiLabelMarginLoss": ("mlm", multilabel()),
        "SoftMarginLoss": ("s", pair(target="sign")),
        "MultiLabelSoftMarginLoss": ("mls", pair(target="binary")),
        "CosineEmbeddingLoss": ("c", cosine()),
        "MultiMarginLoss": ("mm", multiclass()),
        "TripletMarginLoss": ("t", triplet()),
        "TripletMarginWithDistanceLoss": ("t", triplet()),
        "CTCLoss": ("ctc", ctc(short_inputs=True)),
        "PoissonNLLLoss": ("p", pair(target="counts", input_range=(0.1, 3.0))),
    }.get(cls_name, ("x", pair()))[1]
    inputs, _ = name(np.random.default_rng(0))
    args = list(inputs.values())
    got = getattr(jnn, cls_name)(**kwargs)(*[jnp.asarray(a) for a in args])
    expected = getattr(torch.nn, cls_name)(**kwargs)(*[torch.tensor(a) for a in args])
    np.testing.assert_allclose(np.asarray(got), expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "cls_name,kwargs",
    [
        ("CrossEntropyLoss", {"weight": np.arange(1, 6, dtype=np.float32)}),
        ("NLLLoss", {"weight": np.arange(1, 6, dtype=np.float32), "ignore_index": 2}),
        ("BCELoss", {"weight": np.arange(1, 6, dtype=np.float32)}),
        ("BCEWithLogitsLoss", {"weight": np.ones(5, np.float32), "pos_weight": np.full(5, 2.0)}),
        ("BCEWithLogitsLoss", {"pos_weight": np.full(5, 2.0, np.float32)}),
        ("MultiLabelSoftMarginLoss", {"weight": np.arange(1, 6, dtype=np.float32)}),
        ("MultiMarginLoss", {"weight": np.arange(1, 6, dtype=np.float32)}),
        ("CrossEntropyLoss", {}),
    ],
    ids=lambda v: v if isinstance(v, str) else ",".join(v),
)
def test_weights_are_buffers_in_state_dict_like_torch(cls_name, kwargs):
    """state_dict keys, order and values equal torch's; the weighted value equals torch's."""
    got = getattr(jnn, cls_name)(**{k: jnp.asarray(v) for k, v in kwargs.items()})
    ref = getattr(torch.nn, cls_name)(**{k: torch.tensor(v) for k, v in kwargs.items()})
    got_sd, ref_sd = got.state_dict(), ref.state_dict()
    assert list(got_sd) == list(ref_sd)
    for key in ref_sd:
        np.testing.assert_array_equal(np.asarray(got_sd[key]), ref_sd[key].numpy())
    rng = np.random.default_rng(1)
    x = _f(rng, 6, 5, low=0.05, high=0.95)
    if cls_name in ("CrossEntropyLoss", "NLLLoss", "MultiMarginLoss"):
        y = _classes(rng, 5, (6,))
    else:
        y = (rng.random((6, 5)) < 0.5).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(got(jnp.asarray(x), jnp.asarray(y))),
        ref(torch.tensor(x), torch.tensor(y)).numpy(),
        rtol=1e-5,
    )


MODULE_NAMES = [
    "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "L1Loss", "MSELoss",
    "SmoothL1Loss", "HuberLoss", "PoissonNLLLoss", "GaussianNLLLoss", "KLDivLoss",
    "MarginRankingLoss", "HingeEmbeddingLoss", "MultiLabelMarginLoss", "SoftMarginLoss",
    "MultiLabelSoftMarginLoss", "CosineEmbeddingLoss", "MultiMarginLoss", "TripletMarginLoss",
    "TripletMarginWithDistanceLoss", "CTCLoss",
]  # fmt: skip


@pytest.mark.parametrize("cls_name", MODULE_NAMES)
def test_module_repr_matches_torch(cls_name):
    assert repr(getattr(jnn, cls_name)()) == repr(getattr(torch.nn, cls_name)())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size_average": False},
        {"reduce": False},
        {"size_average": True, "reduce": True},
        {"size_average": False, "reduce": False},
        {"size_average": None, "reduce": True},
    ],
)
@pytest.mark.parametrize("cls_name", ["MSELoss", "CrossEntropyLoss", "KLDivLoss"])
def test_deprecated_size_average_reduce_map_like_torch(cls_name, kwargs):
    """The legacy pair gives torch's `reduction`, warns as torch does, and the same value."""
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        got = getattr(jnn, cls_name)(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(torch.nn, cls_name)(**kwargs)
    assert got.reduction == ref.reduction
    rng = np.random.default_rng(2)
    x = _f(rng, 4, 5)
    y = _classes(rng, 5, (4,)) if cls_name == "CrossEntropyLoss" else _f(rng, 4, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref(torch.tensor(x), torch.tensor(y)).numpy()
        fn = getattr(
            F, {"MSELoss": "mse_loss", "KLDivLoss": "kl_div"}.get(cls_name, "cross_entropy")
        )
        functional = fn(jnp.asarray(x), jnp.asarray(y), **kwargs)
    np.testing.assert_allclose(np.asarray(got(jnp.asarray(x), jnp.asarray(y))), expected, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(functional), expected, rtol=1e-5)


def test_ctc_seed_workflow_shapes_match_torch():
    """Seed 002 §6.15: T=50, C=20, N=16, padded and concatenated targets; value and gradient
    (an infeasible sample makes both libraries' loss inf and gradient NaN)."""
    rng = np.random.default_rng(3)
    t_len, c, n, s = 50, 20, 16, 30
    x = _log_softmax(_f(rng, t_len, n, c), 2)
    il = np.full(n, t_len, np.int64)
    padded_lengths = rng.integers(10, s, n)
    concat_lengths = rng.integers(1, s, n)  # ≤ S: the same compiled shape as padded
    cases = [
        (rng.integers(1, c, (n, s)), padded_lengths),
        (rng.integers(1, c, int(concat_lengths.sum())), concat_lengths),
    ]
    criterion = jnn.CTCLoss()
    for tg, tl in cases:
        xt = torch.tensor(x, requires_grad=True)
        ref = torch.nn.CTCLoss()(xt, torch.tensor(tg), torch.tensor(il), torch.tensor(tl))
        (ref_grad,) = torch.autograd.grad(ref, xt)
        got, grad = jax.value_and_grad(
            partial(criterion, targets=tg, input_lengths=il, target_lengths=tl)
        )(jnp.asarray(x))
        np.testing.assert_allclose(float(got), ref.item(), rtol=CTC_RTOL)
        np.testing.assert_allclose(np.asarray(grad), ref_grad.numpy(), rtol=CTC_RTOL, atol=CTC_ATOL)


# (input shape, class-index target, weight, label_smoothing): every target ignored, or the kept
# ones weighted 0, so the weighted mean divides by zero (torch: NaN value, gradient 0 for
# ignored elements and NaN for kept ones with zero total weight)
ZERO_COUNT_CASES = [
    ((4, 3), [-100] * 4, None, 0.0),
    ((2, 3, 2), [[-100, -100], [-100, -100]], None, 0.0),
    ((2, 3, 2), [[-100, -100], [-100, -100]], [1.0, 2.0, 3.0], 0.2),
    ((2, 3, 2), [[0, -100], [1, 1]], [0.0, 0.0, 1.0], 0.0),
    ((4, 3), [0, 0, 1, -100], [0.0, 0.0, 1.0], 0.1),
]


@pytest.mark.parametrize("shape,target,weight,smoothing", ZERO_COUNT_CASES, ids=str)
def test_cross_entropy_zero_count_mean_matches_torch_value_and_gradient(
    shape, target, weight, smoothing
):
    """Value and input gradient, NaN where torch's is NaN (rtol=1e-5)."""
    x = _f(np.random.default_rng(0), *shape)
    tx = torch.tensor(x, requires_grad=True)
    tw = None if weight is None else torch.tensor(weight)
    loss = TF.cross_entropy(tx, torch.tensor(target), weight=tw, label_smoothing=smoothing)
    loss.backward()
    w = None if weight is None else jnp.asarray(weight)
    value, grad = jax.value_and_grad(
        lambda x: F.cross_entropy(x, jnp.asarray(target), weight=w, label_smoothing=smoothing)
    )(x)
    np.testing.assert_allclose(value, loss.item(), rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-5, atol=1e-7, equal_nan=True)


@pytest.mark.parametrize(
    "name,target,bad",
    [
        ("cross_entropy", [0, 5, 1], 5),
        ("nll_loss", [-1, 0, 1], -1),
        ("multi_margin_loss", [0, 4, 1], 4),
    ],
)
def test_out_of_range_class_index_raises_like_torch(name, target, bad):
    x = _f(np.random.default_rng(0), 3, 4)
    with pytest.raises((IndexError, RuntimeError)):
        getattr(TF, name)(torch.tensor(x), torch.tensor(target))
    with pytest.raises(IndexError, match=f"target {bad} is out of bounds"):
        getattr(F, name)(jnp.asarray(x), jnp.asarray(target))


# (constructor kwargs, batched, target kind: "index" | "ignored" | "probs")
LINEAR_CE_CASES = [
    (dict(), True, "index"),
    (dict(bias=True, label_smoothing=0.1, weight=True), True, "ignored"),
    (dict(out_features=(2, 3), bias=True, reduction="sum"), True, "index"),
    (dict(reduction="sum", label_smoothing=0.2), True, "probs"),
    (dict(reduction="none", ignore_index=1, bias=True), False, "ignored"),
]


@pytest.mark.parametrize("kwargs,batched,target_kind", LINEAR_CE_CASES, ids=str)
def test_linear_cross_entropy_loss_matches_torch(kwargs, batched, target_kind):
    """repr, state_dict keys and shapes, value and gradients w.r.t. the input and the linear
    weight and bias after loading torch's state_dict (rtol=1e-5, atol=1e-6)."""
    rng = np.random.default_rng(0)
    n_in, n_classes, n = 5, 4, 3
    kwargs = dict(kwargs)
    if kwargs.pop("weight", False):
        kwargs["weight"] = _f(rng, n_classes, low=0.5, high=2.0)
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    torch.manual_seed(0)
    t = torch.nn.LinearCrossEntropyLoss(n_in, n_classes, **tkw)
    j = jnn.LinearCrossEntropyLoss(n_in, n_classes, **kwargs)
    assert repr(j) == repr(t)
    assert [(k, tuple(v.shape)) for k, v in j.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in t.state_dict().items()
    ]
    j.load_state_dict(t.state_dict())
    out_features = kwargs.get("out_features", ())
    x = _f(rng, *((n, n_in) if batched else (n_in,)))
    lead = (n,) if batched else ()
    if target_kind == "probs":
        target = _f(rng, *lead, n_classes, *out_features, low=0.0, high=1.0)
        target = target / target.sum(axis=len(lead), keepdims=True)
    else:
        ignore = kwargs.get("ignore_index", -100) if target_kind == "ignored" else None
        target = _classes(rng, n_classes, (*lead, *out_features), ignore=ignore)
        if ignore is not None:
            target.reshape(-1)[0] = ignore
    tx = torch.tensor(x, requires_grad=True)
    tout = t(tx, torch.tensor(target))
    cot = _f(rng, *tout.shape)
    (tout * torch.tensor(cot)).sum().backward()

    def loss_fn(m, x):
        out = m(x, jnp.asarray(target))
        return jnp.sum(out * cot), out

    (_, out), (grads, gx) = jtorch.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)(j, x)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    tparams = dict(t.named_parameters())
    assert list(grads) == list(tparams)
    for key, g in grads.items():
        np.testing.assert_allclose(g, tparams[key].grad.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)


def test_linear_cross_entropy_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"`weight` shape \(4,\)"):
        jnn.LinearCrossEntropyLoss(5, 4, weight=np.ones(3, np.float32))
    with pytest.raises(ValueError, match="label_smoothing"):
        jnn.LinearCrossEntropyLoss(5, 4, label_smoothing=1.5)
    w = jnp.ones((4, 2, 5))
    with pytest.raises(ValueError, match="requires batched input"):
        F.linear_cross_entropy(jnp.ones(5), w, jnp.zeros((2,), jnp.int32))
    with pytest.raises(ValueError, match=r"in_features=5"):
        F.linear_cross_entropy(jnp.ones((3, 5)), jnp.ones((4, 6)), jnp.zeros(3, jnp.int32))
    with pytest.raises(ValueError, match="probabilities"):
        F.linear_cross_entropy(
            jnp.ones((3, 5)), jnp.ones((4, 5)), jnp.full((3, 4), 0.25), ignore_index=0
        )
