"""jtorch: the PyTorch training workflow on JAX, Flax NNX, Optax and Orbax."""

from jtorch import _malloc

_malloc.tune()  # before the first JAX computation; see jtorch._malloc

from jtorch import (  # noqa: E402
    _dtypes,
    _tensor_functions,
    _tensor_methods,
    func,
    nn,
    optim,
    random,
    serialization,
)  # noqa: E402,E501
from jtorch._backend import enable_compilation_cache  # noqa: E402
from jtorch._creation import (  # noqa: E402
    arange,
    as_tensor,
    bernoulli,
    full,
    multinomial,
    normal,
    ones,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
)
from jtorch._device import accelerator, backends, cuda, device, to  # noqa: E402
from jtorch._dtypes import Size, get_default_dtype, set_default_dtype  # noqa: E402
from jtorch._random import (  # noqa: E402
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from jtorch._tensor_functions import *  # noqa: E402, F403  (torch's cat, max, flatten, ...)
from jtorch._transforms import Grads, grad, inference_mode, jit, no_grad, value_and_grad  # noqa: E402
from jtorch.checkpoint import load, save  # noqa: E402

_tensor_methods.install()  # torch's tensor methods on JAX arrays; see jtorch._tensor_methods

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
    "func",
    "random",
    "Generator",
    "default_generator",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "rand_like",
    "randn_like",
    "randint_like",
    "bernoulli",
    "multinomial",
    "randperm",
    "normal",
    "enable_compilation_cache",
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
