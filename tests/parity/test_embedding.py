"""Embedding, EmbeddingBag and one_hot against torch: forward values, gradients w.r.t. the
weight, the weight after max_norm renormalisation (torch renormalises in place), repr text.
float32 tolerances: rtol=1e-4, atol=1e-5.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch  # noqa: E402
import jtorch.nn.functional as F  # noqa: E402
from jtorch import nn, optim  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5


def _close(actual, expected):
    expected = expected.detach().numpy() if hasattr(expected, "detach") else np.asarray(expected)
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=RTOL, atol=ATOL)


def _idx(seed, shape, high=10):
    idx = np.random.default_rng(seed).integers(0, high, shape)
    idx.reshape(-1)[:3] = [2, 2, 7]  # repeats and the padding row appear in every case
    return idx


def _twins(cls, args, kwargs):
    th = getattr(torch.nn, cls)(*args, **kwargs)
    jt = getattr(nn, cls)(*args, **kwargs)
    with torch.no_grad():  # a weight with row norms on both sides of max_norm
        th.weight.mul_(torch.linspace(0.2, 1.5, th.weight.shape[0])[:, None])
    jt.load_state_dict(th.state_dict())
    return jt, th


@jtorch.jit  # one compiled program per case: faster than op-by-op eager differentiation
def _forward_backward(model, inputs, cot):
    def loss_fn(m):
        out = m(*inputs)
        return jnp.sum(out * cot), out

    (_, out), grads = jtorch.value_and_grad(loss_fn, has_aux=True)(model)
    return out, grads


def _compare(jt, th, *inputs):
    """Forward, d(sum(out·cot))/d weight, and the weight afterwards (max_norm edits it)."""
    th_inputs = [None if a is None else torch.tensor(a) for a in inputs]
    out_t = th(*th_inputs)
    cot = np.random.default_rng(5).standard_normal(tuple(out_t.shape)).astype(np.float32)
    (out_t * torch.tensor(cot)).sum().backward()
    jt_inputs = [None if a is None else jnp.asarray(a) for a in inputs]
    out_j, grads = _forward_backward(jt, jt_inputs, jnp.asarray(cot))
    _close(out_j, out_t)
    _close(grads["weight"], th.weight.grad)
    _close(jt.weight.value, th.weight)


EMBEDDING_CASES = [
    {},
    dict(padding_idx=2),
    dict(padding_idx=-3),
    dict(scale_grad_by_freq=True),
    dict(max_norm=1.0),
    dict(max_norm=0.8, norm_type=1.0),
    dict(max_norm=1.2, padding_idx=7, scale_grad_by_freq=True),
]


@pytest.mark.parametrize("kwargs", EMBEDDING_CASES, ids=lambda c: str(c))
def test_embedding_matches_torch(kwargs):
    jt, th = _twins("Embedding", (10, 4), kwargs)
    assert repr(jt) == repr(th)
    _compare(jt, th, _idx(0, (3, 5)))


def test_embedding_padding_row_initialised_to_zero_and_from_pretrained():
    jtorch.manual_seed(0)
    emb = nn.Embedding(6, 3, padding_idx=4)
    np.testing.assert_array_equal(np.asarray(emb.weight.value[4]), 0)
    assert float(jnp.abs(emb.weight.value).sum()) > 0
    pre = np.arange(12, dtype=np.float32).reshape(4, 3)
    frozen = nn.Embedding.from_pretrained(jnp.asarray(pre), padding_idx=1)
    th = torch.nn.Embedding.from_pretrained(torch.tensor(pre), padding_idx=1)
    assert repr(frozen) == repr(th)
    np.testing.assert_array_equal(np.asarray(frozen.weight.value), pre)  # padding row kept
    _close(frozen(jnp.array([3, 1])), th(torch.tensor([3, 1])))
    assert not frozen.weight.requires_grad
    _, grads = jtorch.value_and_grad(lambda m: jnp.sum(m(jnp.array([0, 1]))))(frozen)
    assert "weight" not in grads
    trainable = nn.Embedding.from_pretrained(pre, freeze=False)
    _, grads = jtorch.value_and_grad(lambda m: jnp.sum(m(jnp.array([0, 0, 2]))))(trainable)
    np.testing.assert_array_equal(np.asarray(grads["weight"][:, 0]), [2, 0, 1, 0])


def test_functional_embedding_and_one_hot_match_torch():
    w = np.random.default_rng(1).standard_normal((8, 3)).astype(np.float32)
    idx = _idx(2, (2, 3, 4), 8)
    _close(
        F.embedding(idx, w, padding_idx=2),
        torch.nn.functional.embedding(torch.tensor(idx), torch.tensor(w), padding_idx=2),
    )
    for num_classes in (-1, 12):
        ref = torch.nn.functional.one_hot(torch.tensor(idx), num_classes).numpy()
        np.testing.assert_array_equal(np.asarray(F.one_hot(jnp.asarray(idx), num_classes)), ref)


def test_max_norm_renormalises_inside_jit_sgd_steps_like_torch():
    th = torch.nn.Sequential(torch.nn.Embedding(10, 4, max_norm=1.0), torch.nn.Linear(4, 2))
    with torch.no_grad():
        th[0].weight.mul_(2)
    jt = nn.Sequential(nn.Embedding(10, 4, max_norm=1.0), nn.Linear(4, 2))
    jt.load_state_dict(th.state_dict())
    opt_t = torch.optim.SGD(th.parameters(), lr=0.5)
    opt_j = optim.SGD(jt.parameters(), lr=0.5)

    @jtorch.jit
    def train_step(model, optimizer, i):
        loss, grads = jtorch.value_and_grad(lambda m: jnp.sum(m(i) ** 2))(model)
        optimizer.step(grads)
        return loss

    for step in range(3):
        idx = _idx(step, (6,))
        opt_t.zero_grad()
        loss_t = (th(torch.tensor(idx)) ** 2).sum()
        loss_t.backward()
        opt_t.step()
        _close(train_step(jt, opt_j, jnp.asarray(idx)), loss_t)
    for key, value in th.state_dict().items():
        _close(jt.state_dict()[key], value)


BAG_CASES = [
    (dict(mode="sum"), "2d"),
    (dict(mode="mean"), "2d"),
    (dict(mode="max"), "2d"),
    (dict(mode="sum"), "offsets"),
    (dict(mode="mean", padding_idx=2), "offsets"),
    (dict(mode="max", padding_idx=7), "offsets"),
    (dict(mode="mean", include_last_offset=True), "last_offset"),
    (dict(mode="sum"), "weights"),
    (dict(mode="mean", max_norm=1.0), "offsets"),
]


@pytest.mark.parametrize("kwargs,layout", BAG_CASES, ids=lambda c: str(c))
def test_embedding_bag_matches_torch(kwargs, layout):
    jt, th = _twins("EmbeddingBag", (10, 3), kwargs)
    assert repr(jt) == repr(th)
    if layout == "2d":
        _compare(jt, th, _idx(3, (4, 5)))
    elif layout == "weights":
        psw = np.random.default_rng(4).standard_normal(9).astype(np.float32)
        _compare(jt, th, _idx(3, (9,)), np.array([0, 4, 4, 6]), psw)
    elif layout == "last_offset":
        _compare(jt, th, _idx(3, (9,)), np.array([0, 3, 3, 5, 9]))
    else:  # includes an empty bag (4, 4) and padding entries
        _compare(jt, th, _idx(3, (9,)), np.array([0, 4, 4, 6]))


def test_embedding_bag_scale_grad_by_freq_matches_torch_embedding_then_bag_mean():
    """torch's CPU embedding_bag kernel scales some rows by the wrong count; the reference here is
    torch's documented rule, computed with F.embedding(scale_grad_by_freq=True) and a bag mean."""
    idx, offsets = _idx(3, (9,)), [0, 4, 4, 6, 9]
    w = np.random.default_rng(0).standard_normal((10, 3)).astype(np.float32)
    wt = torch.tensor(w, requires_grad=True)
    rows = torch.nn.functional.embedding(torch.tensor(idx), wt, scale_grad_by_freq=True)
    bags = [rows[a:b].mean(0) if b > a else torch.zeros(3) for a, b in zip(offsets, offsets[1:])]
    cot = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    (torch.stack(bags) * torch.tensor(cot)).sum().backward()

    def loss(weight):
        out = F.embedding_bag(idx, weight, np.array(offsets[:-1]), scale_grad_by_freq=True)
        return jnp.sum(out * cot)

    _close(jax.grad(loss)(jnp.asarray(w)), wt.grad)


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match=r"`padding_idx`=10 must be within num_embeddings \(10\)"):
        nn.Embedding(10, 3, padding_idx=10)
    with pytest.raises(ValueError, match="integer indices"):
        F.embedding(jnp.ones(3), jnp.ones((4, 2)))
    with pytest.raises(ValueError, match=r"`weight` must have shape .*\(4,\)"):
        F.embedding(jnp.ones(3, int), jnp.ones(4))
    with pytest.raises(ValueError, match="only supported for mode='sum'"):
        F.embedding_bag(
            jnp.ones((2, 2), int), jnp.ones((4, 2)), per_sample_weights=jnp.ones((2, 2))
        )
    with pytest.raises(ValueError, match="`offsets` is required"):
        F.embedding_bag(jnp.ones(3, int), jnp.ones((4, 2)))
    with pytest.raises(ValueError, match="`mode`"):
        nn.EmbeddingBag(4, 2, mode="median")
    with pytest.raises(ValueError, match=r"2-D.*\(4,\)"):
        nn.Embedding.from_pretrained(jnp.ones(4))
