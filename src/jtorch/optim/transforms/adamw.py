"""AdamW: Adam with decoupled weight decay (torch.optim.AdamW).

The pure optax form: it imports no optimizer facade and works with optax alone.
"""

from __future__ import annotations

import optax

from jtorch.optim.transforms.adam import adam

__all__ = ["adamw"]


def adamw(
    lr: float | optax.Schedule = 1e-3,
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
) -> optax.GradientTransformation:
    """torch.optim.AdamW as an optax transformation: p ← p·(1 − lr·wd), then Adam's step.

    Same as `adam(..., decoupled_weight_decay=True)` with torch's default weight_decay=1e-2;
    `foreach`, `capturable`, `differentiable`, `fused` are accepted and ignored.
    """
    return adam(
        lr, betas, eps, weight_decay, amsgrad, maximize=maximize, decoupled_weight_decay=True
    )
