"""AdamW: Adam with decoupled weight decay (torch.optim.AdamW).

The facade class; the optax transformation is in `jtorch.optim.transforms`.
"""

from __future__ import annotations

from typing import Any

from jtorch.optim.adam import Adam
from jtorch.optim.transforms.adamw import adamw

__all__ = ["adamw", "AdamW"]


class AdamW(Adam):
    """torch.optim.AdamW: `AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)`.

    State per parameter: `step`, `exp_avg`, `exp_avg_sq` (+ `max_exp_avg_sq` with amsgrad).
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )

    def _setstate_group(self, group: dict[str, Any]) -> None:
        # torch: a state_dict loaded into AdamW always decays decoupled
        super()._setstate_group(group)
        group["decoupled_weight_decay"] = True
