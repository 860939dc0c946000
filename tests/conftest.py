"""Test settings shared by every module: CPU only, one torch thread, reproducible hypothesis."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

from hypothesis import settings  # noqa: E402

settings.register_profile("jtorch", deadline=None, max_examples=15, derandomize=True)
settings.load_profile("jtorch")

try:
    import torch  # noqa: E402

    torch.set_num_threads(1)
except ImportError:  # the parity modules skip themselves without torch
    pass
