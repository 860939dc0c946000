"""RNN, LSTM and GRU cells and sequence scans (lax.scan) in torch's gate order.

Cells take one time step (`rnn_tanh_cell`, `rnn_relu_cell`, `lstm_cell`, `gru_cell`, as
`torch.*_cell`); the sequence functions (`rnn_tanh`, `rnn_relu`, `lstm`, `gru`, as torch's
`_VF.lstm` etc.) run a stack of layers over a whole sequence. Weights are torch's: `w_ih`
(gates·hidden, input), `w_hh` (gates·hidden, hidden), `b_ih`, `b_hh`, and `w_hr`
(proj, hidden) for an LSTM with projections; the flat `params` list of the sequence
functions is in torch's `_flat_weights` order (per layer, per direction: w_ih, w_hh,
[b_ih, b_hh], [w_hr]).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jtorch.nn.functional._recurrences import gru_recurrence, lstm_recurrence
from jtorch.nn.functional.dropout import dropout as _dropout

__all__ = [
    "rnn_tanh_cell",
    "rnn_relu_cell",
    "lstm_cell",
    "gru_cell",
    "rnn_tanh",
    "rnn_relu",
    "lstm",
    "gru",
]

# A step maps (input projection W_ih·x + b_ih for one time step, carried state) to the new state.
_Step = Callable[[jax.Array, Any], Any]


def _opt(x: Any) -> jax.Array | None:
    return None if x is None else jnp.asarray(x)


def _hidden(h: jax.Array, w_hh: jax.Array, b_hh: jax.Array | None) -> jax.Array:
    y = h @ w_hh.T
    return y if b_hh is None else y + b_hh


def _rnn_step(act: Callable, w_hh: jax.Array, b_hh: jax.Array | None) -> _Step:
    return lambda gi, h: act(gi + _hidden(h, w_hh, b_hh))


def _lstm_step(w_hh: jax.Array, b_hh: jax.Array | None, w_hr: jax.Array | None) -> _Step:
    def step(gi: jax.Array, state: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        h, c = state
        i, f, g, o = jnp.split(gi + _hidden(h, w_hh, b_hh), 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h if w_hr is None else h @ w_hr.T), c

    return step


def _gru_step(w_hh: jax.Array, b_hh: jax.Array | None) -> _Step:
    def step(gi: jax.Array, h: jax.Array) -> jax.Array:
        i_r, i_z, i_n = jnp.split(gi, 3, axis=-1)
        h_r, h_z, h_n = jnp.split(_hidden(h, w_hh, b_hh), 3, axis=-1)
        r = jax.nn.sigmoid(i_r + h_r)
        z = jax.nn.sigmoid(i_z + h_z)
        n = jnp.tanh(i_n + r * h_n)  # torch: r multiplies (W_hn·h + b_hn)
        return (1 - z) * n + z * h

    return step


def _in_proj(x: jax.Array, w_ih: jax.Array, b_ih: jax.Array | None) -> jax.Array:
    y = x @ w_ih.T
    return y if b_ih is None else y + b_ih


def _cell_in_proj(name: str, input: Any, w_ih: Any, b_ih: Any) -> jax.Array:
    """Check a cell's `input` against `w_ih` and return its projection W_ih·x + b_ih."""
    x, w_ih = jnp.asarray(input), jnp.asarray(w_ih)
    if x.ndim not in (1, 2) or x.shape[-1] != w_ih.shape[1]:
        raise ValueError(
            f"{name}: `input` must have shape (N, {w_ih.shape[1]}) or ({w_ih.shape[1]},) "
            f"(input_size={w_ih.shape[1]}), got {tuple(x.shape)}"
        )
    return _in_proj(x, w_ih, _opt(b_ih))


def rnn_tanh_cell(
    input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None
) -> jax.Array:
    """h' = tanh(W_ih·x + b_ih + W_hh·h + b_hh) for one step (torch.rnn_tanh_cell)."""
    gi = _cell_in_proj("rnn_tanh_cell", input, w_ih, b_ih)
    step = _rnn_step(jnp.tanh, jnp.asarray(w_hh), _opt(b_hh))
    return step(gi, jnp.asarray(hx))


def rnn_relu_cell(
    input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None
) -> jax.Array:
    """h' = relu(W_ih·x + b_ih + W_hh·h + b_hh) for one step (torch.rnn_relu_cell)."""
    gi = _cell_in_proj("rnn_relu_cell", input, w_ih, b_ih)
    step = _rnn_step(jax.nn.relu, jnp.asarray(w_hh), _opt(b_hh))
    return step(gi, jnp.asarray(hx))


def lstm_cell(
    input: Any, hx: Sequence[Any], w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None
) -> tuple[jax.Array, jax.Array]:
    """One LSTM step in torch's gate order i, f, g, o: returns (h', c') (torch.lstm_cell).

    c' = σ(f)·c + σ(i)·tanh(g), h' = σ(o)·tanh(c'), gates = W_ih·x + b_ih + W_hh·h + b_hh.
    """
    gi = _cell_in_proj("lstm_cell", input, w_ih, b_ih)
    h, c = (jnp.asarray(v) for v in hx)
    step = _lstm_step(jnp.asarray(w_hh), _opt(b_hh), None)
    return step(gi, (h, c))


def gru_cell(
    input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None
) -> jax.Array:
    """One GRU step in torch's gate order r, z, n (torch.gru_cell).

    r = σ(W_ir·x + b_ir + W_hr·h + b_hr), z likewise, n = tanh(W_in·x + b_in + r·(W_hn·h + b_hn)),
    h' = (1 − z)·n + z·h.
    """
    gi = _cell_in_proj("gru_cell", input, w_ih, b_ih)
    step = _gru_step(jnp.asarray(w_hh), _opt(b_hh))
    return step(gi, jnp.asarray(hx))


# ---------------------------------------------------------------- sequences


def _scan_layer(
    state: Any, gi: jax.Array, step: _Step, reverse: bool, mask: jax.Array | None = None
) -> tuple[jax.Array, Any]:
    """Run `step` over time (axis 0 of `gi`, shape (L, N, G)); returns outputs (L, N, H) and the
    final state. `reverse=True` walks the sequence backwards but keeps outputs in time order.

    With a (L, N) `mask` (variable-length sequences), a masked step keeps the carried state and
    outputs zeros: the final state is each sequence's state at its last valid step, and the
    reverse direction starts at each sequence's own end."""

    def body(carry: Any, xs: Any) -> tuple[Any, jax.Array]:
        gi_t, valid = xs
        new = step(gi_t, carry)
        if valid is not None:
            keep = valid[:, None]
            new = jax.tree.map(lambda n, c: jnp.where(keep, n, c), new, carry)
        out = new[0] if isinstance(new, tuple) else new
        if valid is not None:
            out = jnp.where(keep, out, jnp.zeros((), out.dtype))
        return new, out

    final, ys = jax.lax.scan(body, state, (gi, mask), reverse=reverse)
    return ys, final


def _layer_step(
    mode: str, w_hh: jax.Array, b_hh: jax.Array | None, w_hr: jax.Array | None
) -> _Step:
    """The recurrence of one layer and direction of the sequence function `mode`."""
    if mode == "lstm":
        return _lstm_step(w_hh, b_hh, w_hr)
    if mode == "gru":
        return _gru_step(w_hh, b_hh)
    return _rnn_step(jnp.tanh if mode == "rnn_tanh" else jax.nn.relu, w_hh, b_hh)


def _sequence_fn(mode: str, doc: str) -> Callable:
    """Build the public sequence function `mode` (torch's `_VF.<mode>` signature) with `doc`."""

    def fn(
        input: Any,
        hx: Any,
        params: Sequence[Any],
        has_biases: bool,
        num_layers: int,
        dropout: float,
        train: bool,
        bidirectional: bool,
        batch_first: bool,
        *,
        key: jax.Array | None = None,
        lengths: Any = None,
    ) -> tuple[jax.Array, Any]:
        x = jnp.asarray(input)
        if x.ndim != 3:
            raise ValueError(
                f"{mode}: `input` must be 3-D ((L, N, H_in), or (N, L, H_in) with batch_first), "
                f"got shape {tuple(x.shape)}"
            )
        directions = 2 if bidirectional else 1
        params = [jnp.asarray(p) for p in params]
        per_group = 2 + 2 * bool(has_biases)
        groups = num_layers * directions
        has_proj = mode == "lstm" and len(params) == groups * (per_group + 1)
        if has_proj:
            per_group += 1
        if len(params) != groups * per_group:
            raise ValueError(
                f"{mode}: `params` has {len(params)} arrays, expected {groups * per_group} "
                f"(num_layers={num_layers} x {directions} direction(s) x {per_group})"
            )
        if mode == "lstm":
            h0, c0 = (jnp.asarray(v) for v in hx)
        else:
            h0, c0 = jnp.asarray(hx), None
        if batch_first:
            x = jnp.swapaxes(x, 0, 1)  # (L, N, H_in)
        mask = None
        if lengths is not None:
            lengths = jnp.asarray(lengths)
            if lengths.shape != x.shape[1:2]:
                raise ValueError(
                    f"{mode}: `lengths` must have shape ({x.shape[1]},) (one per sequence), "
                    f"got {tuple(lengths.shape)}"
                )
            mask = jnp.arange(x.shape[0])[:, None] < lengths[None, :]  # (L, N)
        drop = dropout > 0 and train and num_layers > 1
        if drop:
            if key is None:
                raise ValueError(f"{mode}: `key` is required when train=True and dropout > 0")
            drop_keys = list(jax.random.split(key, num_layers - 1))
        h_n, c_n = [], []
        for layer in range(num_layers):
            outputs = []
            for direction in range(directions):
                idx = layer * directions + direction
                w = params[idx * per_group : (idx + 1) * per_group]
                b_ih, b_hh = (w[2], w[3]) if has_biases else (None, None)
                state = (h0[idx], c0[idx]) if mode == "lstm" else h0[idx]
                gi = _in_proj(x, w[0], b_ih)  # (L, N, gates·H): one matmul for the whole sequence
                if mode == "lstm" and not has_proj and mask is None:
                    zx = gi if b_hh is None else gi + b_hh
                    ys, *final = lstm_recurrence(zx, *state, w[1], direction == 1)
                elif mode == "gru" and mask is None:
                    bias = jnp.zeros(w[1].shape[0], w[1].dtype) if b_hh is None else b_hh
                    ys, final = gru_recurrence(gi, state, w[1], bias, direction == 1)
                else:
                    step = _layer_step(mode, w[1], b_hh, w[-1] if has_proj else None)
                    ys, final = _scan_layer(state, gi, step, direction == 1, mask)
                outputs.append(ys)
                if mode == "lstm":
                    h_n.append(final[0])
                    c_n.append(final[1])
                else:
                    h_n.append(final)
            x = outputs[0] if directions == 1 else jnp.concatenate(outputs, axis=-1)
            if drop and layer < num_layers - 1:
                x = _dropout(x, dropout, True, key=drop_keys[layer])
        if batch_first:
            x = jnp.swapaxes(x, 0, 1)
        if mode == "lstm":
            return x, (jnp.stack(h_n), jnp.stack(c_n))
        return x, jnp.stack(h_n)

    fn.__name__ = fn.__qualname__ = mode
    fn.__doc__ = (
        f"{doc}\n\n"
        "`input` is (L, N, H_in) ((N, L, H_in) with batch_first); `hx` is (D·num_layers, N, H_out)"
        "\n(an (h0, c0) pair for lstm); `params` is torch's flat weight list. Returns (output, h_n)"
        "\nwith output (L, N, D·H_out), each layer a `lax.scan` over time. Dropout (train only)\n"
        "acts on the outputs of every layer but the last. `lengths` (N,) (keyword-only) marks\n"
        "variable-length sequences: steps t >= lengths[n] are skipped (state kept, output 0),\n"
        "so h_n holds each sequence's last valid step.\n\n"
        "Differs from torch: dropout randomness is an explicit `key` (keyword-only)."
    )
    return fn


rnn_tanh = _sequence_fn(
    "rnn_tanh", "Multi-layer Elman RNN, h_t = tanh(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh)."
)
rnn_relu = _sequence_fn(
    "rnn_relu", "Multi-layer Elman RNN, h_t = relu(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh)."
)
lstm = _sequence_fn(
    "lstm", "Multi-layer LSTM (gates i, f, g, o; optional projection h_t = W_hr·h_t)."
)
gru = _sequence_fn("gru", "Multi-layer GRU (gates r, z, n as torch).")
