"""Optional native extensions on the CPU: oneDNN convolutions (`jtorch._ext.onednn`) and
BatchNorm's channel sums (`jtorch._ext.channel_stats`)."""

from jtorch._ext.onednn import (
    available,
    channels_last_activations,
    conv_nd,
    conv_transpose_nd,
    load_error,
    use_onednn,
)

__all__ = [
    "available",
    "channels_last_activations",
    "use_onednn",
    "load_error",
    "conv_nd",
    "conv_transpose_nd",
]
