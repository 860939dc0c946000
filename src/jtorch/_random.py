"""The global default RNG behind `manual_seed`, layer init, dropout and rand/randn.

torch keeps one implicit generator; jtorch keeps one `Generator`: a PRNG key and a counter held in
Python. Each draw outside a trace returns `fold_in(key, counter)` and advances the counter (the same
keys an `nnx.Rngs(seed)` hands out, so layer init is unchanged from earlier versions).

Inside a compiled function a Python counter cannot advance per call, so `jtorch.jit` draws one key
per call outside the trace (advancing the counter once) and passes it in as an argument; draws
made while that function is traced fold the per-call key with a trace-time counter (`trace_frame`).
Every call therefore sees fresh numbers and the sequence is reproducible under `manual_seed`. A
draw from the global generator inside any other trace (`jax.jit`, `lax.scan` in eager code) would
bake one constant key into the program, so it raises instead.

Modules that need randomness at call time (dropout) fork their own `nnx.Rngs` at construction;
their key state is part of the module and is threaded through compiled steps.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jtorch._device import placed_like

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed"]

_DEFAULT_SEED = 0
_COUNTER_MOD = 2**32  # fold_in takes 32-bit data, like nnx's uint32 RngCount
_STATE_WORDS = 6  # state layout (uint32): seed lo, seed hi, counter, key data (2 words)
_STATE_VERSION = 1


class _Frame:
    """The per-call key of a `jtorch.jit` function being traced, and the draws made so far."""

    def __init__(self, key: jax.Array):
        self.key = key
        self.count = 0

    def next(self) -> jax.Array:
        key = jax.random.fold_in(self.key, self.count)
        self.count += 1
        return key


_frames = threading.local()


def _frame() -> _Frame | None:
    stack = getattr(_frames, "stack", None)
    return stack[-1] if stack else None


def in_trace_frame() -> bool:
    """Whether a `jtorch.jit` function (or another `trace_frame`) is being traced now."""
    return bool(getattr(_frames, "stack", None))


@contextlib.contextmanager
def trace_frame(key: jax.Array) -> Iterator[_Frame]:
    """While tracing a compiled function: global draws fold `key` with a trace-time counter.

    `jtorch.jit` opens one around its function, with a key passed in per call; a `lax.scan` body
    can open one with a key folded with the iteration index to get fresh numbers per iteration.
    """
    stack = getattr(_frames, "stack", None)
    if stack is None:
        stack = _frames.stack = []
    frame = _Frame(key)
    stack.append(frame)
    try:
        yield frame
    finally:
        stack.pop()


def _not_in_trace(key: jax.Array, what: str) -> jax.Array:
    if isinstance(key, jax.core.Tracer):
        raise RuntimeError(
            f"{what}: drawing from the global generator inside a `jax.jit`/`lax.scan`/other "
            "traced function would reuse one fixed key on every call; compile with `jtorch.jit` "
            "(which threads the generator through as state) or pass `generator=` (a PRNG key or "
            "an `nnx.Rngs` that is part of the traced state)"
        )
    return key


class Generator:
    """A stream of PRNG keys (torch.Generator): a seed's key plus a counter kept in Python.

    `manual_seed`, `seed`, `initial_seed`, `get_state`/`set_state` follow torch.Generator.
    `default()` returns the next key, as `nnx.Rngs.default()` does, so code that accepts an
    `nnx.Rngs` accepts a Generator. `device` is accepted for torch's signature and ignored.

    Differs from torch: the state is jtorch's own (a uint32 array), not torch's Mersenne Twister.
    """

    def __init__(self, device: Any = "cpu"):
        self.device = device
        self._set(_DEFAULT_SEED, 0)

    def _set(self, seed: int, counter: int, key: jax.Array | None = None) -> None:
        self._seed = int(seed)
        self._counter = int(counter) % _COUNTER_MOD
        self._seed_key = key

    @property
    def _key(self) -> jax.Array:
        """The seed's key, made on first use: making it at import would start JAX's backend,
        which `jtorch.distributed.init_process_group` must be able to configure first."""
        if self._seed_key is None:
            # torch seeds are 64-bit; jax.random.key takes int64 (or uint32 data), so keep the
            # low 63 bits' value as jax would read a Python int in that range.
            self._seed_key = jax.random.key(self._seed % 2**63)
        return self._seed_key

    def manual_seed(self, seed: int) -> Generator:
        """Reset to `seed`'s stream; returns self (torch.Generator.manual_seed)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"manual_seed: `seed` must be an int, got {type(seed).__name__}")
        self._set(int(seed) % 2**64, 0)
        return self

    def seed(self) -> int:
        """Reseed from OS entropy and return the new seed (torch.Generator.seed)."""
        new = int.from_bytes(np.random.SeedSequence().entropy.to_bytes(16, "little")[:8], "little")
        self._set(new % 2**63, 0)
        return self._seed

    def initial_seed(self) -> int:
        """The seed this generator was last seeded with."""
        return self._seed

    def next_key(self) -> jax.Array:
        """The next key: `fold_in(seed key, counter)`, advancing the counter."""
        key = _not_in_trace(jax.random.fold_in(self._key, self._counter), "jtorch random draw")
        self._counter = (self._counter + 1) % _COUNTER_MOD
        return key

    default = next_key

    def peek(self) -> tuple[jax.Array, int]:
        """(seed key, counter) of the next draw, without advancing."""
        return self._key, self._counter

    def reserve(self) -> tuple[jax.Array, int]:
        """(seed key, counter) for one compiled call, advancing the counter once."""
        counter = self._counter
        self._counter = (counter + 1) % _COUNTER_MOD
        return self._key, counter

    def get_state(self) -> jax.Array:
        """This generator's state as a uint32 array: seed, counter and key (torch.get_state)."""
        data = np.asarray(jax.random.key_data(self._key), np.uint32).reshape(-1)
        head = [self._seed & 0xFFFFFFFF, self._seed >> 32, self._counter]
        return jnp.asarray(np.concatenate([np.asarray(head, np.uint32), data]))

    def set_state(self, new_state: Any) -> Generator:
        """Restore a state returned by `get_state` (torch.Generator.set_state); returns self."""
        state = np.asarray(new_state)
        expected = 3 + np.asarray(jax.random.key_data(self._key)).size
        if state.dtype != np.uint32 or state.shape != (expected,):
            raise ValueError(
                f"set_rng_state: `new_state` must be a uint32 array of shape ({expected},) as "
                f"returned by get_rng_state(), got dtype {state.dtype} and shape {state.shape}"
            )
        key_shape = np.asarray(jax.random.key_data(self._key)).shape
        key = jax.random.wrap_key_data(
            jnp.asarray(state[3:].reshape(key_shape)), impl=jax.random.key_impl(self._key)
        )
        self._set(int(state[0]) | (int(state[1]) << 32), int(state[2]), key)
        return self

    def __repr__(self) -> str:
        return f"<jtorch.Generator seed={self._seed} counter={self._counter}>"


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the global default RNG (torch.manual_seed); returns the default generator."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the global default RNG from OS entropy and return the seed (torch.seed)."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed of the global default RNG (torch.initial_seed)."""
    return default_generator.initial_seed()


def get_rng_state() -> jax.Array:
    """The global default RNG's state (torch.get_rng_state): a uint32 array.

    Module RNG streams (dropout) are part of each module's state; see `module_rng_state`.
    """
    return default_generator.get_state()


def set_rng_state(new_state: Any) -> None:
    """Restore the global default RNG from `get_rng_state()`'s result (torch.set_rng_state)."""
    default_generator.set_state(new_state)


def next_key(rngs: Any = None) -> jax.Array:
    """A fresh PRNG key from `rngs` (an `nnx.Rngs` or `Generator`) if given, else from the global
    default RNG (through the current `jtorch.jit` call's key while such a function is traced)."""
    if rngs is not None:
        return rngs.default()
    frame = _frame()
    if frame is not None:
        return frame.next()
    return default_generator.next_key()


def key_from(generator: Any, what: str) -> jax.Array:
    """The key a `generator=` argument stands for: None (global RNG), a `Generator`, an
    `nnx.Rngs` or a PRNG key used as is."""
    if generator is None or isinstance(generator, (Generator, nnx.Rngs)):
        return next_key(generator)
    if isinstance(generator, jax.Array) and (
        jnp.issubdtype(generator.dtype, jax.dtypes.prng_key)
        or (generator.dtype == jnp.uint32 and generator.shape == (2,))
    ):
        return generator
    raise TypeError(
        f"{what}: `generator` must be None, a jtorch.Generator, an nnx.Rngs or a jax PRNG key, "
        f"got {type(generator).__name__}"
    )


def fork_rngs(rngs: nnx.Rngs | None = None) -> nnx.Rngs:
    """A new `nnx.Rngs` seeded from a fresh key, for a module that draws keys at call time."""
    return nnx.Rngs(next_key(rngs))


# ---------------------------------------------------------------- module streams


def _stream_paths(module: Any) -> Iterator[tuple[str, nnx.RngStream]]:
    for path, node in nnx.compat.iter_graph(module):
        if isinstance(node, nnx.RngStream):
            yield ".".join(map(str, path)), node


def module_rng_state(module: Any) -> dict[str, dict[str, jax.Array]]:
    """Every `nnx.Rngs` stream in `module` (dropout, attention, RNN): `{path: {"key", "count"}}`,
    keys as their uint32 data, so a checkpoint can hold them as plain arrays."""
    return {
        path: {
            "key": jax.random.key_data(stream.key.get_value()),
            "count": stream.count.get_value(),
        }
        for path, stream in _stream_paths(module)
    }


def load_module_rng_state(module: Any, state: dict[str, Any]) -> None:
    """Restore `module_rng_state`'s result into `module`'s streams; every stream must be there."""
    streams = dict(_stream_paths(module))
    missing = sorted(set(streams) - set(state))
    unexpected = sorted(set(state) - set(streams))
    if missing or unexpected:
        raise KeyError(
            f"module RNG state does not match the module's streams: missing {missing}, "
            f"unexpected {unexpected}"
        )
    for path, stream in streams.items():
        old_key = stream.key.get_value()
        data = jnp.asarray(state[path]["key"], jnp.uint32)
        expected = jax.random.key_data(old_key).shape
        if data.shape != expected:
            raise ValueError(
                f"module RNG state `{path}`: key data has shape {data.shape}, expected {expected}"
            )
        key = jax.random.wrap_key_data(data, impl=jax.random.key_impl(old_key))
        stream.key.set_value(placed_like(key, old_key))  # e.g. replicated over a DDP mesh
        count = stream.count.get_value()
        new_count = jnp.asarray(state[path]["count"], count.dtype).reshape(count.shape)
        stream.count.set_value(placed_like(new_count, count))
