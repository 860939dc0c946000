"""The layout policy: which activations XLA stores channels-last on the CPU.

One decision, made here and read by both sides of the contract: the oneDNN convolutions declare
channels-last input/output layouts for the activations this policy names, and BatchNorm sends
exactly those activations to the C++ channel sums, which read them as rows of C floats. The
C++ code never re-derives the rule: its inputs are declared channels-last, so XLA hands them
over in that layout (inserting a copy if an input were stored otherwise) and correctness never
depends on the policy, only speed does.

`JTORCH_ONEDNN_LAYOUT`: `auto` (default) channels-last for multiples of 16 channels (oneDNN's
channels-last kernels want whole 16-channel vectors; LeNet's 6-channel layers stay plain, with
blocked primitives); `plain` or `channels_last` for every convolution. Channels-last arrays keep
their (N, C, *spatial) shape: only XLA's physical layout changes, and XLA carries it through the
elementwise ops between convolutions, so the blocked-layout reorders (about 8% of a ResNet-18
step) disappear.
"""

from __future__ import annotations

import os

__all__ = ["activations_channels_last", "conv_channels_last", "channels_last_layout"]

_MODES = ("auto", "plain", "channels_last")


def _mode() -> str:
    mode = os.environ.get("JTORCH_ONEDNN_LAYOUT", "auto")
    if mode not in _MODES:
        raise ValueError(
            f"JTORCH_ONEDNN_LAYOUT={mode!r}: expected 'auto', 'plain' or 'channels_last'"
        )
    return mode


def activations_channels_last(channels: int) -> bool:
    """Whether activations with `channels` channels are stored channels-last between the
    convolutions (and so whether BatchNorm reads them in place)."""
    mode = _mode()
    if mode != "auto":
        return mode == "channels_last"
    return channels % 16 == 0


def conv_channels_last(c_in: int, c_out: int) -> bool:
    """Layout of one convolution: channels-last when both its input and its output are. A
    network's 1-3 channel image stays plain: on it the blocked primitives (plus one copy of
    their output into channels-last) beat the channels-last kernels (ResNet-18's stem)."""
    if _mode() != "auto":
        return activations_channels_last(c_out)
    return activations_channels_last(c_in) and activations_channels_last(c_out)


def channels_last_layout(ndim: int) -> tuple[int, ...]:
    """Axis order (major to minor) that stores (N, C, *spatial) as (N, *spatial, C)."""
    return (0,) + tuple(range(2, ndim)) + (1,)
