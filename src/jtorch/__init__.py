"""jtorch: the PyTorch training workflow on JAX, Flax NNX, Optax and Orbax."""

from jtorch import _malloc

_malloc.tune()  # before the first JAX computation; see jtorch._malloc

from jtorch import nn, optim, serialization  # noqa: E402
from jtorch._backend import enable_compilation_cache  # noqa: E402
from jtorch._creation import arange, as_tensor, full, ones, rand, randint, randn, tensor, zeros  # noqa: E402
from jtorch._device import cuda, device, to  # noqa: E402
from jtorch._random import manual_seed  # noqa: E402
from jtorch._transforms import Grads, grad, inference_mode, jit, no_grad, value_and_grad  # noqa: E402
from jtorch.checkpoint import load, save  # noqa: E402

__all__ = [
    "nn",
    "optim",
    "serialization",
    "manual_seed",
    "device",
    "cuda",
    "to",
    "jit",
    "grad",
    "value_and_grad",
    "no_grad",
    "inference_mode",
    "Grads",
    "tensor",
    "as_tensor",
    "rand",
    "randn",
    "randint",
    "zeros",
    "ones",
    "full",
    "arange",
    "save",
    "load",
    "enable_compilation_cache",
]

__version__ = "0.1.0"
