"""SGD with torch's momentum, dampening, Nesterov, weight decay and maximize (torch.optim.SGD).

The facade class; the optax transformation is in `jtorch.optim.transforms`.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jtorch.optim.optimizer import Optimizer, _to_array
from jtorch.optim.transforms.sgd import SGDState, _check_sgd_args, sgd

__all__ = ["sgd", "SGD", "SGDState"]


class SGD(Optimizer):
    """torch.optim.SGD: `SGD(model.parameters(), lr=0.01, momentum=0.9)`.

    State: `momentum_buffer` once a momentum step has run (torch keeps none without momentum).
    """

    _transform_factory = staticmethod(sgd)
    _hyperparams = ("lr", "momentum", "dampening", "weight_decay")

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        _check_sgd_args(lr, momentum, dampening, weight_decay, nesterov)
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def _state_to_torch(self, state: SGDState, group: dict[str, Any]) -> dict[str, Any] | None:
        # torch keeps no state without momentum, and creates the buffer at the first step
        if group["momentum"] == 0 or int(state.step) == 0:
            return None
        return {"momentum_buffer": state.momentum_buffer}

    def _state_from_torch(
        self, entry: dict[str, Any], template: SGDState, group: dict[str, Any]
    ) -> SGDState:
        buf = entry.get("momentum_buffer")
        if buf is None:
            return template
        buf = _to_array(buf).astype(template.momentum_buffer.dtype)
        return SGDState(step=jnp.ones([], jnp.int32), momentum_buffer=buf)
