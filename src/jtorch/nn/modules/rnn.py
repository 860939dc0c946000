"""RNN, LSTM, GRU and their Cell versions with torch parameter names."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtorch import _random
from jtorch.nn import functional as F
from jtorch.nn import init
from jtorch.nn.module import Module, Parameter
from jtorch.nn.utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
_SEQUENCE_FNS = {"LSTM": F.lstm, "GRU": F.gru, "RNN_TANH": F.rnn_tanh, "RNN_RELU": F.rnn_relu}


def _check_nonlinearity(nonlinearity: str) -> None:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")


def _uniform_init(
    rngs: nnx.Rngs | None, shapes: list[tuple[int, ...]], hidden: int, dtype: Any
) -> list[Parameter]:
    """torch's RNN init: every weight and bias from U(−1/√hidden_size, 1/√hidden_size).

    One draw for all parameters (its length rounded up to a power of two), split on the host: few
    compiled samplers overall instead of one per parameter shape.
    """
    stdv = 1.0 / math.sqrt(hidden) if hidden > 0 else 0.0
    sizes = [int(np.prod(shape)) for shape in shapes]
    length = 1 << max(sum(sizes) - 1, 0).bit_length()
    flat = np.asarray(init.uniform(_random.next_key(rngs), (length,), -stdv, stdv, dtype))
    chunks = np.split(flat, np.cumsum(sizes))[: len(sizes)]
    return [Parameter(jnp.asarray(c.reshape(shape))) for c, shape in zip(chunks, shapes)]


class RNNBase(Module):
    """What RNN, LSTM and GRU share: torch's parameters (`weight_ih_l0`, `bias_hh_l1_reverse`,
    `weight_hr_l0`, ...), init U(±1/√hidden_size), input/state checks and the forward pass.

    `mode` is torch's: 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'. `rngs=` (keyword-only) draws the
    initial values and the inter-layer dropout keys from an `nnx.Rngs` instead of the global RNG.
    A `PackedSequence` input (see jtorch.nn.utils.rnn) gives a PackedSequence output and
    h_n (c_n) at each sequence's last valid step; its lengths are data, so one compilation
    serves every length pattern of the same padded shape.
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode} (expected one of {list(_GATES)})")
        if (
            not isinstance(dropout, numbers.Number)
            or isinstance(dropout, bool)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                f"`dropout` should be a number in range [0, 1] representing the probability of "
                f"an element being zeroed, got {dropout!r}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=3,
            )
        for name, value in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int):
                raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"`{name}` must be greater than zero, got {value}")
        if num_layers <= 0:
            raise ValueError(f"`num_layers` must be greater than zero, got {num_layers}")
        if proj_size < 0:
            raise ValueError(
                "`proj_size` should be a positive integer or zero to disable projections, "
                f"got {proj_size}"
            )
        if proj_size >= hidden_size:
            raise ValueError(
                f"`proj_size` has to be smaller than hidden_size ({hidden_size}), got {proj_size}"
            )
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        dtype = jnp.float32 if dtype is None else dtype
        directions = self._directions
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        names: list[str] = []
        shapes: list[tuple[int, ...]] = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                layer_shapes = [
                    ("weight_ih", (gate_size, layer_input)),
                    ("weight_hh", (gate_size, real_hidden)),
                ]
                if bias:
                    layer_shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    layer_shapes += [("weight_hr", (proj_size, hidden_size))]
                for base, shape in layer_shapes:
                    names.append(base + suffix)
                    shapes.append(shape)
        for name, param in zip(names, _uniform_init(rngs, shapes, hidden_size, dtype)):
            setattr(self, name, param)
        self._flat_weights_names = tuple(names)
        # Forked from the global RNG: inside a compiled step its counter is part of the state,
        # so every call draws a fresh dropout mask.
        self.rngs = _random.fork_rngs(rngs)
        if device is not None:
            self.to(device)

    @property
    def _directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _flat_weights(self) -> list[Parameter]:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters grouped per layer and direction, in torch's order."""
        per = len(self._flat_weights_names) // (self.num_layers * self._directions)
        flat = self._flat_weights
        return [flat[i : i + per] for i in range(0, len(flat), per)]

    def flatten_parameters(self) -> None:
        """No-op kept for torch code (cuDNN weight packing has no JAX counterpart)."""

    def _state_shapes(self, batch: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        rows = self.num_layers * self._directions
        out = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (rows, batch, out), (rows, batch, self.hidden_size)

    def _check_state(self, what: str, value: jax.Array, expected: tuple[int, ...]) -> None:
        if tuple(value.shape) != expected:
            raise ValueError(
                f"{type(self).__name__}: `{what}` must have shape {expected}, "
                f"got {tuple(value.shape)}"
            )

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        name = type(self).__name__
        packed = input if isinstance(input, PackedSequence) else None
        x = jnp.asarray(input.data if packed else input)
        if packed and x.ndim != 3:
            raise ValueError(
                f"{name}: a PackedSequence's data must be (T, B, input_size), got shape "
                f"{tuple(x.shape)}"
            )
        if x.ndim not in (2, 3):
            raise ValueError(
                f"{name}: Expected input to be 2D or 3D, got {x.ndim}D (shape {tuple(x.shape)})"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input.size(-1) must be equal to input_size. Expected "
                f"{self.input_size}, got {x.shape[-1]} (input shape {tuple(x.shape)})"
            )
        batched = x.ndim == 3
        batch_first = self.batch_first and not packed  # packed data is time-major
        batch_dim = 0 if batch_first else 1
        if not batched:
            x = jnp.expand_dims(x, batch_dim)
        h_shape, c_shape = self._state_shapes(x.shape[batch_dim])
        lstm = self.mode == "LSTM"
        if hx is None:
            state = jnp.zeros(h_shape, x.dtype)
            if lstm:
                state = (state, jnp.zeros(c_shape, x.dtype))
        else:
            parts = [jnp.asarray(v) for v in hx] if lstm else [jnp.asarray(hx)]
            want = 3 if batched else 2
            for what, part in zip(("hx", "cx") if lstm else ("hx",), parts):
                if part.ndim != want:
                    raise ValueError(
                        f"{name}: for {'batched 3-D' if batched else 'unbatched 2-D'} input, "
                        f"`{what}` should be {want}-D, got shape {tuple(part.shape)}"
                    )
            if not batched:
                parts = [p[:, None] for p in parts]
            for what, part, shape in zip(("hx", "cx"), parts, (h_shape, c_shape)):
                self._check_state(what, part, shape)
            state = tuple(parts) if lstm else parts[0]
        train = self.training and self.dropout > 0 and self.num_layers > 1
        key = self.rngs.dropout() if train else None
        output, state = _SEQUENCE_FNS[self.mode](
            x,
            state,
            self._flat_weights,
            self.bias,
            self.num_layers,
            self.dropout,
            train,
            self.bidirectional,
            batch_first,
            key=key,
            lengths=None if packed is None else packed.lengths,
        )
        if packed:
            return packed._replace(data=output), state
        if not batched:
            output = jnp.squeeze(output, batch_dim)
            state = tuple(s[:, 0] for s in state) if lstm else state[:, 0]
        return output, state

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Multi-layer Elman RNN, h_t = tanh(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh) (or relu).

    Input (L, N, H_in) ((N, L, H_in) with batch_first, or unbatched (L, H_in)); returns
    (output (L, N, D·H_out), h_n (D·num_layers, N, H_out)).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        _check_nonlinearity(nonlinearity)
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(
            mode,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
            rngs=rngs,
        )
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Multi-layer LSTM with torch's gates i, f, g, o and optional projection (proj_size).

    Returns (output, (h_n, c_n)); h has proj_size features when proj_size > 0.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device,
            dtype,
            rngs=rngs,
        )


class GRU(RNNBase):
    """Multi-layer GRU with torch's gates r, z, n, n = tanh(W_in·x + b_in + r·(W_hn·h + b_hn)).

    Returns (output, h_n).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
            rngs=rngs,
        )


# ---------------------------------------------------------------- cells


class RNNCellBase(Module):
    """What the cells share: `weight_ih` (chunks·H, H_in), `weight_hh` (chunks·H, H), `bias_ih`,
    `bias_hh`, all from U(±1/√hidden_size) as torch."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{name}` must be a positive int, got {value!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        dtype = jnp.float32 if dtype is None else dtype
        gates = num_chunks * hidden_size
        shapes = [(gates, input_size), (gates, hidden_size)] + [(gates,), (gates,)] * bias
        params = _uniform_init(rngs, shapes, hidden_size, dtype)
        self.weight_ih, self.weight_hh = params[:2]
        if bias:
            self.bias_ih, self.bias_hh = params[2:]
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        if device is not None:
            self.to(device)

    def _prepare(self, input: Any, states: tuple[Any, ...], what: tuple[str, ...]):
        """Check ranks and add the batch axis to unbatched input; zero states where None."""
        name = type(self).__name__
        x = jnp.asarray(input)
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {x.ndim}D instead")
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input has {x.shape[-1]} features (shape {tuple(x.shape)}), "
                f"expected input_size={self.input_size}"
            )
        batched = x.ndim == 2
        x = x if batched else x[None]
        out = []
        for label, state in zip(what, states):
            if state is None:
                out.append(jnp.zeros((x.shape[0], self.hidden_size), x.dtype))
                continue
            h = jnp.asarray(state)
            if h.ndim not in (1, 2):
                raise ValueError(f"{name}: Expected {label} to be 1D or 2D, got {h.ndim}D instead")
            h = h if batched else h[None]
            if h.shape != (x.shape[0], self.hidden_size):
                raise ValueError(
                    f"{name}: `{label}` must have shape {(x.shape[0], self.hidden_size)}, "
                    f"got {tuple(h.shape)}"
                )
            out.append(h)
        return x, out, batched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """One Elman RNN step, h' = tanh(W_ih·x + b_ih + W_hh·h + b_hh) (or relu)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        _check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, bias, 1, device, dtype, rngs=rngs)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> jax.Array:
        x, (h,), batched = self._prepare(input, (hx,), ("hidden",))
        cell = F.rnn_tanh_cell if self.nonlinearity == "tanh" else F.rnn_relu_cell
        h = cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h[0]


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o); returns (h', c')."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype, rngs=rngs)

    def forward(self, input: Any, hx: Any = None) -> tuple[jax.Array, jax.Array]:
        states = (None, None) if hx is None else tuple(hx)
        x, (h, c), batched = self._prepare(input, states, ("hx[0]", "hx[1]"))
        h, c = F.lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h, c) if batched else (h[0], c[0])


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n); returns h'."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype, rngs=rngs)

    def forward(self, input: Any, hx: Any = None) -> jax.Array:
        x, (h,), batched = self._prepare(input, (hx,), ("hidden",))
        h = F.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h[0]
