"""SparseAdam: Adam that moves only the entries with a gradient (torch.optim.SparseAdam).

The facade class; the optax transformation is in `jtorch.optim.transforms`.
"""

from __future__ import annotations

from typing import Any

from jtorch.optim.optimizer import Optimizer
from jtorch.optim.transforms.sparse_adam import (
    SparseAdamState,
    _check_sparse_adam_args,
    sparse_adam,
)

__all__ = ["sparse_adam", "SparseAdam", "SparseAdamState"]


class SparseAdam(Optimizer):
    """torch.optim.SparseAdam: `SparseAdam(list(embedding.parameters()), lr=1e-3)`.

    State per parameter: `step` (a Python int in `state_dict()`, as torch), `exp_avg`,
    `exp_avg_sq`.
    Differs from torch: takes dense gradients; zero entries are treated as absent (see
    `sparse_adam`).
    """

    _transform_factory = staticmethod(sparse_adam)
    _hyperparams = ("lr", "eps")
    _torch_step_type = int

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
    ):
        _check_sparse_adam_args(lr, betas, eps)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, maximize=maximize)
        super().__init__(params, defaults)
