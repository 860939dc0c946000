"""jtorch: the PyTorch training workflow on JAX, Flax NNX, Optax and Orbax."""

from jtorch import _malloc

_malloc.tune()  # before the first JAX computation; see jtorch._malloc

from jtorch import _dtypes, _tensor_functions, _tensor_methods, nn, optim  # noqa: E402
from jtorch._creation import arange, as_tensor, full, ones, rand, randint, randn, tensor, zeros  # noqa: E402
from jtorch._device import accelerator, backends, cuda, device, to  # noqa: E402
from jtorch._dtypes import Size, get_default_dtype, set_default_dtype  # noqa: E402
from jtorch._random import manual_seed  # noqa: E402
from jtorch._tensor_functions import *  # noqa: E402, F403  (torch's cat, max, flatten, ...)
from jtorch._transforms import Grads, grad, inference_mode, jit, no_grad, value_and_grad  # noqa: E402
from jtorch.checkpoint import load, save  # noqa: E402

_tensor_methods.install()  # torch's tensor methods on JAX arrays; see jtorch._tensor_methods

__all__ = [
    "nn",
    "optim",
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
    "backends",
    "accelerator",
    "Size",
    "get_default_dtype",
    "set_default_dtype",
    *_tensor_functions.__all__,
    *_dtypes.FIXED_DTYPES,
    *_dtypes.X64_DTYPES,
]


def __getattr__(name: str):
    """torch's dtype names (`jtorch.float32`, `jtorch.long`, ...): the 64-bit ones follow
    `jax_enable_x64` when read."""
    if name in _dtypes.FIXED_DTYPES or name in _dtypes.X64_DTYPES:
        return _dtypes.dtype_of(name)
    raise AttributeError(f"module 'jtorch' has no attribute {name!r}")


__version__ = "0.1.0"
