"""jtorch: the PyTorch training workflow on JAX, Flax NNX, Optax and Orbax."""

from jtorch import _malloc

_malloc.tune()  # before the first JAX computation; see jtorch._malloc

from jtorch import func, nn, optim, random, serialization  # noqa: E402
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
from jtorch._device import cuda, device, to  # noqa: E402
from jtorch._random import (  # noqa: E402
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
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
]

__version__ = "0.1.0"
