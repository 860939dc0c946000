"""Adafactor with torch's relative step size, factored second moment and update clipping
(torch.optim.Adafactor).

The facade class; the optax transformation is in `jtorch.optim.transforms`.
"""

from __future__ import annotations

from typing import Any

from jtorch.optim.optimizer import Optimizer
from jtorch.optim.transforms.adafactor import AdafactorState, _check_adafactor_args, adafactor

__all__ = ["adafactor", "Adafactor", "AdafactorState"]


class Adafactor(Optimizer):
    """torch.optim.Adafactor: `Adafactor(model.parameters(), lr=1e-2, beta2_decay=-0.8)`.

    State per parameter: `step`, and `row_var`/`col_var` (≥ 2-D parameters) or `variance`.
    """

    _transform_factory = staticmethod(adafactor)
    _hyperparams = ("lr", "beta2_decay", "d", "weight_decay")

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ):
        _check_adafactor_args(lr, beta2_decay, eps, d, weight_decay)
        defaults = dict(
            lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
            foreach=foreach, maximize=maximize,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_adafactor_args(
            group["lr"], group["beta2_decay"], group["eps"], group["d"], group["weight_decay"]
        )
