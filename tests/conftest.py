"""Test settings shared by every module: CPU only, one torch thread, reproducible hypothesis, a
private compilation cache."""

import os
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# `fit` and `jtorch train` use the persistent compilation cache: keep the suite's entries out of
# the user's cache directory (subprocesses inherit this one and share it)
os.environ.setdefault("JTORCH_COMPILATION_CACHE", tempfile.mkdtemp(prefix="jtorch-test-xla-"))

from hypothesis import settings  # noqa: E402

settings.register_profile("jtorch", deadline=None, max_examples=15, derandomize=True)
settings.load_profile("jtorch")

try:
    import torch  # noqa: E402

    torch.set_num_threads(1)
except ImportError:  # the parity modules skip themselves without torch
    pass
