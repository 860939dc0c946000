"""torch.nn.utils.rnn against torch: packing, padding, and RNN/LSTM/GRU over PackedSequence
(padded outputs, h_n/c_n at each sequence's last step, gradients w.r.t. the padded input, the
initial state and every parameter; float32, rtol=1e-4, atol=1e-5). Lengths are data: one
compilation serves several length patterns."""

import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from jtorch import nn
from jtorch.nn.utils import rnn

torch = pytest.importorskip("torch")
TR = torch.nn.utils.rnn

RTOL, ATOL = 1e-4, 1e-5
T, B, H_IN, H = 6, 4, 3, 5


def _close(actual, expected, what):
    np.testing.assert_allclose(
        np.asarray(actual), expected.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=what
    )


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# (module, constructor kwargs, lengths, enforce_sorted, pass an initial state)
PACKED_CASES = [
    ("LSTM", dict(), [6, 4, 4, 1], True, False),
    ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True), [3, 6, 1, 5], False, True),
    ("GRU", dict(bidirectional=True), [2, 5, 6, 2], False, False),
    ("RNN", dict(num_layers=2, nonlinearity="relu"), [5, 1, 3, 6], False, True),
    ("LSTM", dict(proj_size=2, bidirectional=True), [4, 6, 2, 3], False, False),
]


@pytest.mark.parametrize("name,kwargs,lengths,enforce_sorted,with_state", PACKED_CASES, ids=str)
def test_rnn_over_packed_sequence_matches_torch(name, kwargs, lengths, enforce_sorted, with_state):
    torch.manual_seed(0)
    t = getattr(torch.nn, name)(H_IN, H, **kwargs)
    j = getattr(nn, name)(H_IN, H, **kwargs)
    j.load_state_dict(t.state_dict())
    lstm, batch_first = name == "LSTM", kwargs.get("batch_first", False)
    rows = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    x = _x((B, T, H_IN) if batch_first else (T, B, H_IN))
    states = [_x((rows, B, kwargs.get("proj_size") or H), 1)] if with_state else []
    if with_state and lstm:
        states.append(_x((rows, B, H), 2))

    tx = torch.tensor(x, requires_grad=True)
    tstates = [torch.tensor(s, requires_grad=True) for s in states]
    thx = None if not with_state else (tuple(tstates) if lstm else tstates[0])
    packed_t = TR.pack_padded_sequence(tx, lengths, batch_first, enforce_sorted)
    tout, th = t(packed_t, thx)
    tpad, tlen = TR.pad_packed_sequence(tout, batch_first, total_length=T)
    tfinal = list(th) if lstm else [th]
    w = _x(tuple(tpad.shape), 3)
    ((tpad * torch.tensor(w)).sum() + sum((s**2).sum() for s in tfinal)).backward()

    def loss_fn(model, x, states, lengths):
        hx = None if not with_state else (tuple(states) if lstm else states[0])
        packed = rnn.pack_padded_sequence(x, lengths, batch_first, enforce_sorted)
        out, h = model(packed, hx)
        assert isinstance(out, rnn.PackedSequence)
        pad, _ = rnn.pad_packed_sequence(out, batch_first, total_length=T)
        final = list(h) if lstm else [h]
        return (pad * w).sum() + sum((s**2).sum() for s in final), (pad, final)

    traces = []
    step = jtorch.jit(
        jtorch.value_and_grad(
            lambda *a: (traces.append(1), loss_fn(*a))[1], argnums=(0, 1, 2), has_aux=True
        )
    )
    args = (j, jnp.asarray(x), [jnp.asarray(s) for s in states])
    (_, (pad, final)), (grads, gx, gstates) = step(*args, jnp.asarray(lengths))
    _close(pad, tpad, "padded output")
    for a, b in zip(final, tfinal, strict=True):
        _close(a, b, "final state")
    _close(gx, tx.grad, "grad input")
    for g, s in zip(gstates, tstates, strict=True):
        _close(g, s.grad, "grad initial state")
    tparams = dict(t.named_parameters())
    for key, g in grads.items():
        _close(g, tparams[key].grad, f"grad {key}")
    # another length pattern of the same padded shape: no new compilation
    other = sorted(lengths, reverse=True) if enforce_sorted else lengths[::-1]
    step(*args, jnp.asarray([max(1, n - 1) for n in other]))
    assert len(traces) == 1


def test_pack_and_pad_functions_match_torch():
    seqs = [_x((n, 2), n) for n in (4, 2, 5)]
    tseqs = [torch.tensor(s) for s in seqs]
    for kwargs in (dict(), dict(batch_first=True, padding_value=-1.0, padding_side="left")):
        np.testing.assert_array_equal(
            np.asarray(rnn.pad_sequence(seqs, **kwargs)), TR.pad_sequence(tseqs, **kwargs).numpy()
        )
    packed, packed_t = rnn.pack_sequence(seqs, False), TR.pack_sequence(tseqs, False)
    np.testing.assert_array_equal(np.asarray(packed.batch_sizes), packed_t.batch_sizes.numpy())
    np.testing.assert_array_equal(
        np.asarray(packed.sorted_indices), packed_t.sorted_indices.numpy()
    )
    np.testing.assert_array_equal(
        np.asarray(packed.unsorted_indices), packed_t.unsorted_indices.numpy()
    )
    for kwargs in (dict(), dict(batch_first=True, padding_value=9.0, total_length=7)):
        pad, lengths = rnn.pad_packed_sequence(packed, **kwargs)
        pad_t, lengths_t = TR.pad_packed_sequence(packed_t, **kwargs)
        np.testing.assert_array_equal(np.asarray(pad), pad_t.numpy())
        np.testing.assert_array_equal(np.asarray(lengths), lengths_t.numpy())
    for got, want in zip(rnn.unpack_sequence(packed), TR.unpack_sequence(packed_t), strict=True):
        np.testing.assert_array_equal(np.asarray(got), want.numpy())
    padded = rnn.pad_sequence(seqs, batch_first=True)
    unpadded = rnn.unpad_sequence(padded, [4, 2, 5], batch_first=True)
    for got, want in zip(unpadded, seqs, strict=True):
        np.testing.assert_array_equal(np.asarray(got), want)


BAD_CASES = [
    (lambda: rnn.pack_padded_sequence(_x((T, B, 2)), [6, 5, 5, 7]), r"in \[1, 6\]"),
    (lambda: rnn.pack_padded_sequence(_x((T, B, 2)), [6, 0, 5, 5]), r"in \[1, 6\]"),
    (lambda: rnn.pack_padded_sequence(_x((T, B, 2)), [2, 5, 5, 1]), "decreasing order"),
    (lambda: rnn.pack_padded_sequence(_x((T, B, 2)), [2, 5]), "`lengths` must be 4 integers"),
    (
        lambda: rnn.pad_packed_sequence(rnn.pack_sequence([_x((3, 1))]), total_length=2),
        "`total_length`",
    ),  # fmt: skip
    (lambda: rnn.pad_sequence([_x((3, 1)), _x((2, 2))]), r"sequences\[1\] has shape \(2, 2\)"),
    (lambda: rnn.pad_sequence([_x((3, 1))], padding_side="top"), "`padding_side`"),
    (lambda: nn.GRU(2, 3)(rnn.pack_sequence([_x((3, 4))])), "input_size"),
]


@pytest.mark.parametrize("call,match", BAD_CASES)
def test_bad_input_raises_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
