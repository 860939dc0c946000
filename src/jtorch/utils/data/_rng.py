"""Seeds for the data pipeline, drawn from jtorch's global RNG (or a user generator).

The data pipeline runs on the host with numpy, so a jax key is turned into a 64-bit integer seed
once (per epoch, per iterator) and numpy's `default_rng` does the rest.
"""

from __future__ import annotations

import random as _pyrandom
from typing import Any

import numpy as np

__all__: list[str] = []


def _seed_from_key(key: Any) -> int:
    import jax

    hi, lo = (int(v) for v in np.asarray(jax.random.bits(key, (2,), "uint32")))
    return (hi << 32) | lo


def draw_seed(generator: Any = None) -> int:
    """A fresh 64-bit seed from `generator` or, when None, from `jtorch._random.next_key()`.

    `generator` may be a `jtorch.Generator`, a `numpy.random.Generator`, a `random.Random`, an
    `nnx.Rngs`, a jax PRNG key (used as is), or a `torch.Generator` (advanced like torch does).
    """
    from jtorch import _random

    if generator is None or isinstance(generator, _random.Generator):
        return _seed_from_key(_random.next_key(generator))
    if isinstance(generator, np.random.Generator):
        return int(generator.integers(0, 2**63 - 1))
    if isinstance(generator, _pyrandom.Random):
        return generator.getrandbits(63)
    if hasattr(generator, "default") and callable(generator.default):  # nnx.Rngs
        return _seed_from_key(generator.default())
    if is_torch_generator(generator):
        import torch  # a torch.Generator: draw an int64 from it as torch's samplers do

        return int(torch.empty((), dtype=torch.int64).random_(generator=generator).item())
    try:  # a jax PRNG key
        return _seed_from_key(generator)
    except Exception as exc:  # noqa: BLE001
        raise TypeError(
            "`generator` must be None, a jtorch.Generator, a numpy Generator, random.Random, "
            f"nnx.Rngs, a jax PRNG key or a torch.Generator, got {type(generator).__name__}"
        ) from exc


def is_torch_generator(generator: Any) -> bool:
    """Whether `generator` is PyTorch's own `torch.Generator` (not jtorch's of the same name)."""
    cls = type(generator)
    return cls.__name__ == "Generator" and cls.__module__.split(".")[0] == "torch"


def numpy_rng(generator: Any = None) -> np.random.Generator:
    """A numpy Generator: `generator` itself if it is one, else seeded by `draw_seed`."""
    if isinstance(generator, np.random.Generator):
        return generator
    return np.random.default_rng(draw_seed(generator))
