"""Optional native extensions: oneDNN convolutions on the CPU (see `jtorch._ext.onednn`)."""

from jtorch._ext.onednn import (
    available,
    conv_nd,
    conv_transpose_nd,
    load_error,
    use_onednn,
)

__all__ = ["available", "use_onednn", "load_error", "conv_nd", "conv_transpose_nd"]
