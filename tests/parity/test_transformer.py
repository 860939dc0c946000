"""Transformer, TransformerEncoder(Layer) and TransformerDecoder(Layer) against torch: repr,
state_dict keys and shapes, outputs and gradients w.r.t. the inputs and every parameter after
loading torch's state_dict, for every flag and mask, in train mode (dropout 0) and eval mode
(float32, rtol=1e-4, atol=2e-5)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
import jtorch.nn.functional as F
from jtorch import nn

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-4, 2e-5
E, HEADS, FF, T, S, N = 8, 2, 16, 5, 5, 3  # T = S: the cases share compiled ops

# custom activations: (torch callable, jtorch callable)
ACTIVATIONS = {"silu": (torch.nn.functional.silu, F.silu)}


def _close(actual, expected, what):
    np.testing.assert_allclose(
        np.asarray(actual), expected.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=what
    )


def _build(lib, kind, kwargs, dropout):
    """The module of `kind` from torch.nn or jtorch.nn, built with the same arguments."""
    kwargs = dict(kwargs)
    if kwargs.get("activation") in ACTIVATIONS:
        kwargs["activation"] = ACTIVATIONS[kwargs["activation"]][lib is nn]
    layers = kwargs.pop("num_layers", 2)
    final_norm = kwargs.pop("final_norm", True)
    if kind == "transformer":
        return lib.Transformer(E, HEADS, 1, layers, FF, dropout, **kwargs)
    if kind.startswith("enc"):
        layer = lib.TransformerEncoderLayer(E, HEADS, FF, dropout, **kwargs)
        if kind == "encoder":
            norm = lib.LayerNorm(E) if final_norm else None
            extra = {} if lib is nn else dict(enable_nested_tensor=False)
            return lib.TransformerEncoder(layer, layers, norm, **extra)
        return layer
    layer = lib.TransformerDecoderLayer(E, HEADS, FF, dropout, **kwargs)
    if kind == "decoder":
        return lib.TransformerDecoder(layer, layers, lib.LayerNorm(E) if final_norm else None)
    return layer


def _mask(name, kind, batched, gen):
    """A mask for the argument `name` of kind bool (True = blocked), float, 3d (N·H, L, S) float,
    causal (torch's -inf upper triangle), zeros, or pad (key padding: the last key blocked, the
    last two for tgt)."""
    rows = T if name.startswith(("tgt", "memory")) else S
    cols = T if name.startswith("tgt") else S
    if kind == "pad":
        kpm = np.zeros((N, cols) if batched else (cols,), bool)
        kpm[..., -2 if name.startswith("tgt") else -1 :] = True
        return kpm
    if kind == "bool":
        m = gen.random((rows, cols)) > 0.7
        m[:, 0] = False  # no fully blocked rows
        return m
    if kind == "float":
        return gen.standard_normal((rows, cols)).astype(np.float32)
    if kind == "3d":
        return gen.standard_normal((N * HEADS, rows, cols)).astype(np.float32)
    if kind == "causal":
        return torch.nn.Transformer.generate_square_subsequent_mask(rows).numpy()
    assert kind == "zeros"
    return np.zeros((rows, cols), np.float32)


# (module kind, constructor kwargs, mode, batched, {mask argument: kind}, {flag: value}).
# Train-mode cases use dropout 0; eval-mode cases dropout 0.1. `*_is_causal=True` with a
# zero mask and no key padding mask checks torch's rule that the hint replaces the mask.
CASES = [
    (
        "enc_layer",
        dict(batch_first=True, norm_first=True, activation="gelu"),
        "train",
        True,
        {"src_mask": "bool", "src_key_padding_mask": "pad"},
        {},
    ),
    (
        "enc_layer",
        dict(activation="silu"),
        "train",
        False,
        {"src_mask": "zeros"},
        {"is_causal": True},
    ),
    (
        "encoder",
        dict(bias=False, layer_norm_eps=1e-3),
        "eval",
        True,
        {"src_key_padding_mask": "pad", "mask": "3d"},
        {},
    ),
    ("encoder", dict(batch_first=True), "train", True, {"mask": "causal"}, {"is_causal": True}),
    (
        "dec_layer",
        dict(norm_first=True, batch_first=True),
        "train",
        True,
        {"tgt_mask": "causal", "memory_key_padding_mask": "pad"},
        {"tgt_is_causal": True},
    ),
    (
        "dec_layer",
        dict(bias=False, activation="gelu"),
        "train",
        False,
        {"tgt_mask": "bool", "memory_mask": "float", "tgt_key_padding_mask": "pad"},
        {},
    ),
    (
        "dec_layer",
        dict(activation="silu"),
        "eval",
        True,
        {"tgt_mask": "zeros", "memory_mask": "zeros"},
        {"tgt_is_causal": True, "memory_is_causal": True},
    ),
    (
        "decoder",
        dict(batch_first=True),
        "eval",
        True,
        {"tgt_mask": "3d", "tgt_key_padding_mask": "pad", "memory_key_padding_mask": "pad"},
        {},
    ),
    ("decoder", dict(num_layers=1, final_norm=False), "train", True, {"memory_mask": "bool"}, {}),
    (
        "transformer",
        dict(),
        "train",
        True,
        {
            "src_mask": "bool",
            "tgt_mask": "causal",
            "src_key_padding_mask": "pad",
            "memory_key_padding_mask": "pad",
        },
        {},
    ),
    (
        "transformer",
        dict(batch_first=True, norm_first=True, bias=False, activation="gelu"),
        "eval",
        True,
        {"tgt_mask": "causal", "memory_mask": "bool", "tgt_key_padding_mask": "pad"},
        {"tgt_is_causal": True, "src_is_causal": False},
    ),
    (
        "transformer",
        dict(layer_norm_eps=1e-3, num_layers=1),
        "eval",
        False,
        {"src_key_padding_mask": "pad", "tgt_mask": "float"},
        {},
    ),
]


def _inputs(kind, batch_first, batched, gen):
    """The sequence inputs in call order: (src,), (tgt, memory) or (src, tgt)."""

    def seq(length):
        shape = ((N, length) if batch_first else (length, N)) if batched else (length,)
        return gen.standard_normal((*shape, E)).astype(np.float32)

    if kind.startswith("enc"):
        return (seq(S),), seq(S).shape
    if kind.startswith("dec"):
        return (seq(T), seq(S)), seq(T).shape
    return (seq(S), seq(T)), seq(T).shape


@pytest.mark.parametrize("kind,kwargs,mode,batched,masks,flags", CASES, ids=str)
def test_matches_torch(kind, kwargs, mode, batched, masks, flags):
    dropout = 0.0 if mode == "train" else 0.1
    torch.manual_seed(0)
    t = _build(torch.nn, kind, kwargs, dropout)
    j = _build(nn, kind, kwargs, dropout)
    assert repr(j) == repr(t)
    tsd = t.state_dict()
    assert [(k, tuple(v.shape)) for k, v in j.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in tsd.items()
    ]
    j.load_state_dict(tsd)
    t.train(mode == "train")
    j.train(mode == "train")
    gen = np.random.default_rng(1)
    xs, out_shape = _inputs(kind, kwargs.get("batch_first", False), batched, gen)
    mask_arrays = {name: _mask(name, mk, batched, gen) for name, mk in masks.items()}
    out_w = gen.standard_normal(out_shape).astype(np.float32)

    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    tout = t(*txs, **{k: torch.tensor(v) for k, v in mask_arrays.items()}, **flags)
    (tout * torch.tensor(out_w)).sum().backward()

    def loss_fn(m, xs, mask_arrays):
        out = m(*xs, **mask_arrays, **flags)
        return (out * out_w).sum(), out

    # eager: compiling each stack's gradient costs far more than running it op by op
    step = jtorch.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)
    (_, out), (grads, gxs) = step(j, xs, mask_arrays)
    _close(out, tout, "output")
    for i, (g, tx) in enumerate(zip(gxs, txs)):
        _close(g, tx.grad, f"grad input {i}")
    tparams = dict(t.named_parameters())
    assert list(grads) == list(tparams)
    for key, g in grads.items():
        _close(g, tparams[key].grad, f"grad {key}")


@pytest.mark.parametrize("sz", [1, 5])
def test_generate_square_subsequent_mask_matches_torch(sz):
    j = nn.Transformer.generate_square_subsequent_mask(sz)
    t = torch.nn.Transformer.generate_square_subsequent_mask(sz)
    assert j.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(j), t.numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=jnp.bfloat16).dtype == (
        jnp.bfloat16
    )


# activation given to the jtorch layer, and the torch one that must give the same output
ACTIVATION_FORMS = [
    (F.gelu, "gelu"),
    (torch.nn.functional.gelu, "gelu"),
    ("relu", "relu"),
    (nn.GELU(), "gelu"),
    (F.relu, "relu"),
    (F.silu, torch.nn.functional.silu),
]


@pytest.mark.parametrize("activation,torch_activation", ACTIVATION_FORMS, ids=str)
def test_activation_forms(activation, torch_activation):
    """jtorch's F.gelu/F.relu, torch's F.gelu, the strings, modules and any callable (eval)."""
    torch.manual_seed(0)
    t = torch.nn.TransformerEncoderLayer(E, HEADS, FF, activation=torch_activation).eval()
    j = nn.TransformerEncoderLayer(E, HEADS, FF, activation=activation).eval()
    j.load_state_dict(t.state_dict())
    assert j.activation_relu_or_gelu == t.activation_relu_or_gelu
    x = np.random.default_rng(0).standard_normal((S, N, E)).astype(np.float32)
    with torch.no_grad():
        expected = t(torch.tensor(x), src_key_padding_mask=torch.zeros(N, S, dtype=torch.bool))
    _close(j(x), expected, f"activation {activation}")


def test_transformer_init_redraws_matrices():
    """Every >1-d parameter is re-drawn xavier-uniform (so stacked layers differ); biases stay 0."""
    m = nn.Transformer(E, HEADS, 2, 2, FF)
    for name, p in m.named_parameters():
        a = np.asarray(p.value)
        if a.ndim > 1:
            bound = np.sqrt(6 / (a.shape[0] + a.shape[1]))
            assert np.all(np.abs(a) <= bound), name
        elif name.endswith("in_proj_bias"):
            np.testing.assert_array_equal(a, 0)
    layers = m.decoder.layers
    assert not np.allclose(layers[0].linear1.weight.value, layers[1].linear1.weight.value)


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_stacked_layers_are_independent(kind):
    """Copies share neither parameters nor dropout RNG streams (torch deep-copies the layer)."""
    stack = _build(nn, kind, {}, 0.5)
    stack.layers[0].linear1.weight.value = jnp.zeros((FF, E))
    assert not np.all(np.asarray(stack.layers[1].linear1.weight.value) == 0)
    keys = [jax.random.key_data(m.dropout.rngs.dropout()) for m in stack.layers]
    assert not np.array_equal(keys[0], keys[1])


def test_decoder_layer_dropout_draws_fresh_masks():
    m = nn.TransformerDecoderLayer(E, HEADS, FF, dropout=0.5)
    x = jnp.asarray(np.random.default_rng(0).standard_normal((T, N, E)).astype(np.float32))
    a, b = m(x, x), m(x, x)
    assert not np.allclose(a, b)
    m.eval()
    np.testing.assert_array_equal(m(x, x), m(x, x))


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: nn.TransformerEncoderLayer(E, HEADS, activation="tanh"), ValueError, "relu/gelu"),
        (lambda: nn.TransformerDecoderLayer(E, HEADS, activation=3), TypeError, "callable"),
        (
            lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(E, HEADS), 0),
            ValueError,
            "num_layers",
        ),
        (
            lambda: nn.Transformer(E, HEADS, 1, 1, FF)(
                jnp.zeros((S, N, E)), jnp.zeros((T, N + 1, E))
            ),
            ValueError,
            "batch number",
        ),
        (
            lambda: nn.Transformer(E, HEADS, 1, 1, FF)(jnp.zeros((S, N, E)), jnp.zeros((T, N, 6))),
            ValueError,
            "d_model",
        ),
        (
            lambda: nn.TransformerDecoderLayer(E, HEADS)(jnp.zeros((T, N, E)), jnp.zeros((S, E))),
            ValueError,
            "both be batched",
        ),
        (
            lambda: nn.TransformerDecoderLayer(E, HEADS)(
                jnp.zeros((T, N, E)), jnp.zeros((S, N, 4))
            ),
            ValueError,
            "memory",
        ),
        (
            lambda: nn.TransformerEncoderLayer(E, HEADS)(jnp.zeros((S, N, E)), is_causal=True),
            ValueError,
            "Need attn_mask",
        ),
    ],
)
def test_bad_arguments_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()
