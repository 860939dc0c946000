"""LBFGS.step(closure) outside jit: one compiled program per closure code, fed current data.

Traces are counted by the closure itself (it runs in Python only while being traced). Each
step's returned loss (the loss before the step) must equal the loss computed eagerly from the
current parameters and the current data (rtol 1e-6), so no array the closure reads — through a
free variable, a default, a module global, a helper function of this module, or a frozen layer
of the model — is compiled in as a stale constant.
"""

import jax
import jax.numpy as jnp
import numpy as np

import jtorch
from jtorch import nn, optim

_DATA = {}  # a module global the closure reads through `_target_of`


class _Traces:
    """Counts the closure's traced runs (an object: the closure reads it by identity)."""

    count = 0


def _target_of(x):
    return x @ _DATA["proj"]


def _loss(model, x, scale):
    return jnp.mean((model(x) * scale - _target_of(x)) ** 2)


def test_eager_step_compiles_once_per_closure_code_and_reads_current_data():
    jtorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 2))
    optimizer = optim.LBFGS(model[2].parameters(), lr=0.5, max_iter=2, history_size=3)
    traces = _Traces()
    rng = np.random.default_rng(0)
    counts = []
    for rows in (8, 8, 8, 12):  # the last batch has another shape: one more program
        x = jnp.asarray(rng.standard_normal((rows, 6)), jnp.float32)
        scale = jnp.asarray(rng.uniform(0.5, 1.5, 2), jnp.float32)
        _DATA["proj"] = jnp.asarray(rng.standard_normal((6, 2)), jnp.float32)
        model[0].weight.value = jnp.asarray(rng.standard_normal((4, 6)), jnp.float32)  # frozen
        expected = _loss(model, x, scale)

        def closure(m, scale=scale):
            if isinstance(m[2].weight.get_value(), jax.core.Tracer):
                traces.count += 1
            return _loss(m, x, scale)  # noqa: B023 (x read through a cell, as torch scripts do)

        loss = optimizer.step(closure, model)
        np.testing.assert_allclose(float(loss), float(expected), rtol=1e-6)
        counts.append(traces.count)
    assert counts[0] > 0
    assert counts[1] == counts[2] == counts[0]  # new closures, same code and shapes: no retrace
    assert counts[3] > counts[2]  # a batch of another shape: traced once more
    assert len(optimizer._compiled) == 2


class _Trainer:
    """A class-based script: the closure is a method reading the batch from `self`."""

    def __init__(self):
        jtorch.manual_seed(0)
        self.model = nn.Linear(3, 1)
        self.optimizer = optim.LBFGS(self.model.parameters(), max_iter=2)

    def closure(self):
        return jnp.mean((self.model(self.x) - self.y) ** 2)


def test_eager_step_never_reuses_a_program_with_a_stale_attribute_batch():
    """Arrays read through an object (`self.x`) are compiled in as constants, so a new batch
    must compile anew rather than reuse the old program (losses as computed eagerly)."""
    trainer = _Trainer()
    rng = np.random.default_rng(1)
    for _ in range(2):
        trainer.x = jnp.asarray(rng.standard_normal((5, 3)), jnp.float32)
        trainer.y = jnp.asarray(rng.standard_normal((5, 1)), jnp.float32)
        expected = trainer.closure()
        loss = trainer.optimizer.step(trainer.closure)
        np.testing.assert_allclose(float(loss), float(expected), rtol=1e-6)
    assert len(trainer.optimizer._compiled) == 2
