"""The global default RNG behind `manual_seed`, layer init, dropout and rand/randn.

torch keeps one implicit generator; jtorch keeps one `nnx.Rngs` and hands out fresh keys from it.
Modules that need randomness at call time (dropout) fork their own `nnx.Rngs` at construction, so
their key state is part of the module and is threaded through compiled steps.
"""

from __future__ import annotations

import jax
from flax import nnx

# The generator is created on first use, not at import or in `manual_seed`: making keys starts
# JAX's backend, and `jtorch.distributed.init_process_group` must run before that.
_seed = 0
_default_rngs: nnx.Rngs | None = None


def manual_seed(seed: int) -> None:
    """Seed the global default RNG (torch.manual_seed); returns None."""
    global _default_rngs, _seed
    if not isinstance(seed, int):
        raise TypeError(f"manual_seed: `seed` must be an int, got {type(seed).__name__}")
    _seed, _default_rngs = seed, None


def initial_seed_rngs() -> nnx.Rngs:
    """The global `nnx.Rngs` (read it, don't keep it: `manual_seed` replaces it)."""
    global _default_rngs
    if _default_rngs is None:
        _default_rngs = nnx.Rngs(_seed)
    return _default_rngs


def next_key(rngs: nnx.Rngs | None = None) -> jax.Array:
    """A fresh PRNG key from `rngs` if given, else from the global default RNG."""
    return (rngs if rngs is not None else initial_seed_rngs()).default()


def fork_rngs(rngs: nnx.Rngs | None = None) -> nnx.Rngs:
    """A new `nnx.Rngs` seeded from a fresh key, for a module that draws keys at call time."""
    return nnx.Rngs(next_key(rngs))
