"""Attention against torch: scaled_dot_product_attention and MultiheadAttention outputs, weights
and gradients w.r.t. query/key/value and every parameter (float32, rtol=1e-4, atol=1e-5)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
import jtorch.nn.functional as F
from jtorch import nn

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-4, 1e-5
E, HEADS, L, S, N = 8, 2, 4, 5, 3


def _close(actual, expected, what):
    np.testing.assert_allclose(
        np.asarray(actual), expected.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=what
    )


# (mask kind, is_causal, scale, enable_gqa)
SDPA_CASES = [
    (None, False, None, False),
    ("bool", False, None, False),
    ("float", False, 0.3, False),
    (None, True, None, False),
    (None, False, None, True),
]


@pytest.mark.parametrize("mask,is_causal,scale,gqa", SDPA_CASES, ids=lambda c: str(c))
def test_sdpa_matches_torch(mask, is_causal, scale, gqa):
    gen = np.random.default_rng(0)
    kv_heads = 1 if gqa else 2
    q = gen.standard_normal((N, 2, L, 6)).astype(np.float32)
    k = gen.standard_normal((N, kv_heads, S, 6)).astype(np.float32)
    v = gen.standard_normal((N, kv_heads, S, 7)).astype(np.float32)
    m = None
    if mask == "bool":
        m = gen.random((L, S)) > 0.3
        m[:, 0] = True  # no fully blocked rows
    elif mask == "float":
        m = gen.standard_normal((N, 1, L, S)).astype(np.float32)
    w = gen.standard_normal((N, 2, L, 7)).astype(np.float32)

    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tm = None if m is None else torch.tensor(m)
    tout = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, tm, is_causal=is_causal, scale=scale, enable_gqa=gqa
    )
    (tout * torch.tensor(w)).sum().backward()

    def loss(q, k, v):
        out = F.scaled_dot_product_attention(
            q, k, v, m, is_causal=is_causal, scale=scale, enable_gqa=gqa
        )
        return (out * w).sum(), out

    (_, out), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True))(q, k, v)
    _close(out, tout, "output")
    for g, t, name in zip(grads, (tq, tk, tv), "qkv"):
        _close(g, t.grad, f"grad {name}")


def test_sdpa_dropout_uses_key():
    q = jnp.ones((2, L, 4))
    a = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, dropout_key=jax.random.key(0))
    b = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, dropout_key=jax.random.key(1))
    assert a.shape == (2, L, 4) and not np.allclose(a, b)
    again = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, dropout_key=jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(again))


# (constructor kwargs, batched, masks: "none" | "bool" | "float" | "kpm" | "both",
#  (need_weights, average_attn_weights))
MHA_CASES = [
    (dict(), True, "none", (True, True)),
    (dict(), True, "both", (False, True)),
    (dict(batch_first=True), True, "bool", (True, False)),
    (dict(kdim=3, vdim=5), True, "kpm", (True, True)),
    (dict(bias=False, batch_first=True, kdim=6), True, "float", (False, True)),
    (dict(add_bias_kv=True, add_zero_attn=True), True, "both", (True, False)),
    (dict(), False, "bool", (True, True)),
    (dict(), False, "kpm", (False, True)),
]


def _masks(kind, batched, gen):
    attn_mask = kpm = None
    if kind in ("bool", "both"):
        attn_mask = gen.random((L, S)) > 0.7  # True = blocked
        attn_mask[:, 0] = False
    elif kind == "float":
        attn_mask = gen.standard_normal((N * HEADS, L, S)).astype(np.float32)
    if kind in ("kpm", "both"):
        kpm = np.zeros((N, S) if batched else (S,), bool)
        kpm[..., -2:] = True
    return attn_mask, kpm


@pytest.mark.parametrize("kwargs,batched,masks,weights_opts", MHA_CASES, ids=lambda c: str(c))
def test_multihead_attention_matches_torch(kwargs, batched, masks, weights_opts):
    torch.manual_seed(0)
    t = torch.nn.MultiheadAttention(E, HEADS, **kwargs)
    j = nn.MultiheadAttention(E, HEADS, **kwargs)
    assert repr(j) == repr(t)
    assert list(j.state_dict()) == list(t.state_dict())
    j.load_state_dict(t.state_dict())
    gen = np.random.default_rng(1)
    bf = kwargs.get("batch_first", False)

    def shape(length, dim):
        if not batched:
            return (length, dim)
        return (N, length, dim) if bf else (length, N, dim)

    q = gen.standard_normal(shape(L, E)).astype(np.float32)
    k = gen.standard_normal(shape(S, kwargs.get("kdim", E))).astype(np.float32)
    v = gen.standard_normal(shape(S, kwargs.get("vdim", E))).astype(np.float32)
    attn_mask, kpm = _masks(masks, batched, gen)
    out_w = gen.standard_normal(shape(L, E)).astype(np.float32)

    need_weights, average = weights_opts
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tout, tweights = t(
        tq,
        tk,
        tv,
        key_padding_mask=None if kpm is None else torch.tensor(kpm),
        need_weights=need_weights,
        attn_mask=None if attn_mask is None else torch.tensor(attn_mask),
        average_attn_weights=average,
    )
    tloss = (tout * torch.tensor(out_w)).sum()
    if need_weights:
        tloss = tloss + (tweights**2).sum()
    tloss.backward()

    def loss_fn(m, q, k, v, attn_mask, kpm):
        out, weights = m(
            q,
            k,
            v,
            key_padding_mask=kpm,
            need_weights=need_weights,
            attn_mask=attn_mask,
            average_attn_weights=average,
        )
        loss = (out * out_w).sum()
        if need_weights:
            loss = loss + (weights**2).sum()
        return loss, (out, weights)

    step = jtorch.jit(jtorch.value_and_grad(loss_fn, argnums=(0, 1, 2, 3), has_aux=True))
    (_, (out, weights)), (grads, gq, gk, gv) = step(j, q, k, v, attn_mask, kpm)
    what = f"need_weights={need_weights} average={average}"
    _close(out, tout, f"output {what}")
    if need_weights:
        assert weights.shape == tuple(tweights.shape)
        _close(weights, tweights, f"weights {what}")
    else:
        assert weights is None
    for g, ten, name in zip((gq, gk, gv), (tq, tk, tv), "qkv"):
        _close(g, ten.grad, f"grad {name} {what}")
    tparams = dict(t.named_parameters())
    assert list(grads) == list(tparams)
    for key, g in grads.items():
        _close(g, tparams[key].grad, f"grad {key} {what}")


@pytest.mark.parametrize("batch_first", [False, True])
def test_self_attention_of_one_array_matches_torch(batch_first):
    """query, key and value the same array (self-attention, as TransformerEncoderLayer calls
    it): the packed in-projection gives torch's output and gradients, the input's gradient
    summed over its three uses."""
    torch.manual_seed(0)
    t = torch.nn.MultiheadAttention(E, HEADS, batch_first=batch_first)
    j = nn.MultiheadAttention(E, HEADS, batch_first=batch_first)
    j.load_state_dict(t.state_dict())
    x = np.random.default_rng(2).standard_normal((N, L, E) if batch_first else (L, N, E))
    x = x.astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    tout = t(tx, tx, tx, need_weights=False)[0]
    (tout**2).sum().backward()

    def loss_fn(m, x):
        out = m(x, x, x, need_weights=False)[0]
        return (out**2).sum(), out

    step = jtorch.jit(jtorch.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True))
    (_, out), (grads, gx) = step(j, jnp.asarray(x))
    _close(out, tout, "output")
    _close(gx, tx.grad, "grad x")
    for key, param in t.named_parameters():
        _close(grads[key], param.grad, f"grad {key}")


def test_multihead_attention_init_and_dropout():
    m = nn.MultiheadAttention(E, HEADS, dropout=0.5, add_bias_kv=True)
    np.testing.assert_array_equal(m.in_proj_bias.value, 0)
    np.testing.assert_array_equal(m.out_proj.bias.value, 0)
    bound = np.sqrt(6 / (E + 3 * E))  # xavier_uniform on (3E, E)
    assert np.all(np.abs(np.asarray(m.in_proj_weight.value)) <= bound)
    assert repr(m) == (
        "MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear("
        "in_features=8, out_features=8, bias=True)\n)"
    )
    x = jnp.asarray(np.random.default_rng(0).standard_normal((L, N, E)).astype(np.float32))
    step = jtorch.jit(lambda m, x: m(x, x, x)[1])
    a, b = step(m, x), step(m, x)
    assert not np.allclose(a, b)  # a fresh dropout mask every call in train mode


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: nn.MultiheadAttention(6, 4), "divisible"),
        (
            lambda: nn.MultiheadAttention(E, HEADS)(*[jnp.zeros((N, E))] * 2, jnp.zeros((L, N, E))),
            "3-D",
        ),
        (
            lambda: nn.MultiheadAttention(E, HEADS)(
                *[jnp.zeros((L, N, E))] * 3, attn_mask=jnp.zeros((L, L + 1))
            ),
            "attn_mask",
        ),
        (
            lambda: nn.MultiheadAttention(E, HEADS)(
                *[jnp.zeros((L, N, E))] * 3, key_padding_mask=jnp.zeros((N + 1, L), bool)
            ),
            "key_padding_mask",
        ),
    ],
)
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("need_weights,with_kpm", [(False, False), (True, False), (False, True)])
def test_is_causal_replaces_the_mask_only_where_torch_does(need_weights, with_kpm):
    """is_causal=True with a non-causal float mask: torch attends causally when there is no
    key padding mask and no weights are asked for, and uses the mask as given otherwise."""
    torch.manual_seed(0)
    t = torch.nn.MultiheadAttention(E, HEADS)
    j = nn.MultiheadAttention(E, HEADS)
    j.load_state_dict(t.state_dict())
    gen = np.random.default_rng(3)
    x = gen.standard_normal((L, N, E)).astype(np.float32)
    mask = gen.standard_normal((L, L)).astype(np.float32)
    kpm = np.zeros((N, L), np.float32) if with_kpm else None
    kw = dict(need_weights=need_weights, is_causal=True)
    with torch.no_grad():
        tx = torch.tensor(x)
        tkpm = None if kpm is None else torch.tensor(kpm)
        expected = t(tx, tx, tx, key_padding_mask=tkpm, attn_mask=torch.tensor(mask), **kw)[0]
    got = j(x, x, x, key_padding_mask=kpm, attn_mask=mask, **kw)[0]
    _close(got, expected, f"need_weights={need_weights} key_padding_mask={with_kpm}")
