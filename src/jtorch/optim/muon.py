"""Muon: momentum orthogonalised by a Newton–Schulz iteration, for 2-D parameters
(torch.optim.Muon).

The facade class; the optax transformation is in `jtorch.optim.transforms`.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jtorch.optim.optimizer import Optimizer, _to_array
from jtorch.optim.transforms.muon import (
    DEFAULT_A,
    DEFAULT_B,
    DEFAULT_C,
    DEFAULT_NS_STEPS,
    EPS,
    MuonState,
    _check_2d,
    _check_muon_args,
    muon,
)

__all__ = ["muon", "Muon", "MuonState"]


class Muon(Optimizer):
    """torch.optim.Muon: `Muon(matrix_params, lr=1e-3, weight_decay=0.1, momentum=0.95)`.

    Only 2-D parameters (hidden-layer weight matrices); optimize biases, embeddings and the rest
    with another optimizer (e.g. AdamW), as in torch. State per parameter: `momentum_buffer`.
    """

    _transform_factory = staticmethod(muon)
    _hyperparams = ("lr", "weight_decay", "momentum", "eps")

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = (DEFAULT_A, DEFAULT_B, DEFAULT_C),
        eps: float = EPS,
        ns_steps: int = DEFAULT_NS_STEPS,
        adjust_lr_fn: str | None = None,
    ):
        _check_muon_args(lr, weight_decay, momentum, ns_coefficients, ns_steps, adjust_lr_fn)
        defaults = dict(
            lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
            ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
            adjust_lr_fn=adjust_lr_fn,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_muon_args(
            group["lr"],
            group["weight_decay"],
            group["momentum"],
            group["ns_coefficients"],
            group["ns_steps"],
            group["adjust_lr_fn"],
        )
        _check_2d([p.get_value() for p in group["params"]], "Muon")

    def _state_to_torch(self, state: Any, group: dict[str, Any]) -> dict[str, Any] | None:
        if int(state.step) == 0:
            return None  # torch creates the buffer at the first step
        return {"momentum_buffer": state.momentum_buffer}

    def _state_from_torch(self, entry: dict[str, Any], template: Any, group: dict[str, Any]):
        if "momentum_buffer" not in entry:
            raise ValueError(
                f"load_state_dict: Muon's per-parameter state needs 'momentum_buffer', got "
                f"keys {sorted(entry)}"
            )
        buf = _to_array(entry["momentum_buffer"]).astype(template.momentum_buffer.dtype)
        return template._replace(step=jnp.ones_like(template.step), momentum_buffer=buf)
