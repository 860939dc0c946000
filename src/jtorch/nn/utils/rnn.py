"""Variable-length sequences for RNN, LSTM and GRU (torch.nn.utils.rnn).

torch packs the valid steps of a batch into one (Σ lengths, *) array sorted by length, a shape
that depends on the lengths' values. jtorch keeps the padded time-major array and the lengths
instead, so the lengths are data: under `jit` one compilation serves every length pattern of
the same padded shape, and the recurrent layers mask the steps past each sequence's end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "PackedSequence",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pack_sequence",
    "pad_sequence",
    "unpack_sequence",
    "unpad_sequence",
]


class PackedSequence(NamedTuple):
    """A batch of variable-length sequences, as `pack_padded_sequence` returns it.

    Differs from torch: `data` is the padded time-major array (T, B, *) in the batch's original
    order (zeros past each sequence's end) and `lengths` (B,) the valid steps of each, instead
    of torch's packed (Σ lengths, *) rows sorted by length and `batch_sizes` (a shape that
    would depend on the lengths' values). `batch_sizes` is still available, computed from the
    lengths; `sorted_indices` and
    `unsorted_indices` are torch's (None when `enforce_sorted=True`). A PackedSequence is a
    pytree, so it passes through `jit`, `grad` and `vmap`.
    """

    data: jax.Array
    lengths: jax.Array
    sorted_indices: jax.Array | None = None
    unsorted_indices: jax.Array | None = None

    @property
    def batch_sizes(self) -> jax.Array:
        """torch's batch_sizes: how many sequences are still running at each of the T steps."""
        steps = jnp.arange(self.data.shape[0])
        return jnp.sum(self.lengths[None, :] > steps[:, None], axis=1)


def _is_concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def pack_padded_sequence(
    input: Any, lengths: Any, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Wrap a padded batch (T, B, *) ((B, T, *) with batch_first) and its `lengths` (B,).

    With `enforce_sorted=True` the lengths must be in decreasing order, as in torch (checked
    outside `jit`); with False any order is accepted and torch's sort permutation is recorded.
    Lengths outside [1, T] raise outside `jit`.
    """
    x = jnp.asarray(input)
    if x.ndim < 2:
        raise ValueError(
            "pack_padded_sequence: `input` must be at least 2-D ((T, B, *), or (B, T, *) with "
            f"batch_first), got shape {tuple(x.shape)}"
        )
    if batch_first:
        x = jnp.swapaxes(x, 0, 1)
    steps, batch = x.shape[:2]
    lengths = jnp.asarray(lengths)
    if lengths.shape != (batch,) or not jnp.issubdtype(lengths.dtype, jnp.integer):
        raise ValueError(
            f"pack_padded_sequence: `lengths` must be {batch} integers (one per sequence of "
            f"input {tuple(jnp.shape(input))}), got shape {tuple(lengths.shape)} of "
            f"{lengths.dtype}"
        )
    lengths = lengths.astype(jnp.int32)
    if _is_concrete(lengths) and batch:
        values = np.asarray(lengths)
        if values.min() <= 0 or values.max() > steps:
            raise ValueError(
                f"pack_padded_sequence: every entry of `lengths` must be in [1, {steps}] (the "
                f"padded length), got {values.tolist()}"
            )
        if enforce_sorted and np.any(np.diff(values) > 0):
            raise ValueError(
                "pack_padded_sequence: `lengths` array must be sorted in decreasing order when "
                f"`enforce_sorted` is True, got {values.tolist()}. You can pass "
                "`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep "
                "this requirement if you do not need ONNX exportability."
            )
    mask = jnp.arange(steps)[:, None] < lengths[None, :]
    data = jnp.where(mask.reshape(mask.shape + (1,) * (x.ndim - 2)), x, jnp.zeros((), x.dtype))
    if enforce_sorted:
        return PackedSequence(data, lengths)
    sorted_indices = jnp.argsort(-lengths, stable=True)
    return PackedSequence(data, lengths, sorted_indices, jnp.argsort(sorted_indices))


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Inverse of pack_padded_sequence: (padded, lengths) in the batch's original order.

    The time axis has torch's length max(lengths) (or `total_length`).

    Differs from torch: inside `jit`, where max(lengths) is data, the time axis keeps the padded
    length T the sequence was packed with (or `total_length`).
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(
            f"pad_packed_sequence: `sequence` must be a PackedSequence, got "
            f"{type(sequence).__name__}"
        )
    data, lengths = sequence.data, sequence.lengths
    steps = data.shape[0]
    if _is_concrete(lengths):
        steps = int(np.max(np.asarray(lengths), initial=0))
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                "pad_packed_sequence: Expected `total_length` to be at least the length of the "
                f"longest sequence in input, but got total_length={total_length} and max "
                f"sequence length being {steps}"
            )
        steps = total_length
    if steps <= data.shape[0]:
        data = data[:steps]
    else:
        extra = [(0, steps - data.shape[0])] + [(0, 0)] * (data.ndim - 1)
        data = jnp.pad(data, extra)
    if padding_value != 0:
        mask = jnp.arange(steps)[:, None] < lengths[None, :]
        mask = mask.reshape(mask.shape + (1,) * (data.ndim - 2))
        data = jnp.where(mask, data, jnp.asarray(padding_value, data.dtype))
    return (jnp.swapaxes(data, 0, 1) if batch_first else data), lengths


def pad_sequence(
    sequences: Sequence[Any],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> jax.Array:
    """Stack sequences of shapes (L_i, *) into (max L, B, *) ((B, max L, *) with batch_first),
    filling with `padding_value` on the `padding_side` ('right' or 'left')."""
    if padding_side not in ("right", "left"):
        raise ValueError(
            f"pad_sequence: `padding_side` must be 'left' or 'right', got {padding_side!r}"
        )
    seqs = [jnp.asarray(s) for s in sequences]
    if not seqs:
        raise ValueError("pad_sequence: `sequences` is empty")
    trailing = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if s.ndim < 1 or s.shape[1:] != trailing:
            raise ValueError(
                f"pad_sequence: every sequence must have shape (L, *{trailing}); "
                f"sequences[{i}] has shape {tuple(s.shape)}"
            )
    longest = max(s.shape[0] for s in seqs)
    dtype = jnp.result_type(*seqs)
    padded = []
    for s in seqs:
        gap = [(0, longest - s.shape[0]) if padding_side == "right" else (longest - s.shape[0], 0)]
        padded.append(jnp.pad(s.astype(dtype), gap + [(0, 0)] * len(trailing),
                              constant_values=padding_value))  # fmt: skip
    return jnp.stack(padded, axis=0 if batch_first else 1)


def pack_sequence(sequences: Sequence[Any], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (L_i, *) sequences: pad_sequence + pack_padded_sequence."""
    lengths = np.asarray([jnp.shape(s)[0] for s in sequences], np.int32)
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(
    padded_sequences: Any, lengths: Any, batch_first: bool = False
) -> list[jax.Array]:
    """Split a padded batch back into its (L_i, *) sequences (outside `jit`: the lengths
    decide the shapes)."""
    x = jnp.asarray(padded_sequences)
    if not batch_first:
        x = jnp.swapaxes(x, 0, 1)
    return [x[i, :n] for i, n in enumerate(np.asarray(lengths).tolist())]


def unpack_sequence(packed_sequences: PackedSequence) -> list[jax.Array]:
    """The (L_i, *) sequences of a PackedSequence, in the original order (outside `jit`)."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
