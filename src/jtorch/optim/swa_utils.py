"""Stochastic weight averaging and EMA (torch.optim.swa_utils): `AveragedModel`, `SWALR`,
`update_bn` and the averaging functions.

`AveragedModel.update_parameters` is pure array maths with the count `n_averaged` kept on device
(the first call copies, later ones average, chosen by `jnp.where`, not by reading the count), so
it runs inside a `jtorch.jit` step as well as outside one.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jtorch._device import resolve_device
from jtorch._transforms import jit
from jtorch.nn.module import Module
from jtorch.nn.modules.normalization import _BatchNorm
from jtorch.optim._common import _lerp
from jtorch.optim.lr_scheduler import LRScheduler, _format_param
from jtorch.optim.optimizer import Optimizer

__all__ = [
    "AveragedModel",
    "update_bn",
    "SWALR",
    "get_ema_multi_avg_fn",
    "get_swa_multi_avg_fn",
    "get_ema_avg_fn",
    "get_swa_avg_fn",
]

AvgFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
MultiAvgFn = Callable[[list[jax.Array], list[jax.Array], jax.Array], Sequence[jax.Array]]


def _is_inexact(x: jax.Array) -> bool:
    return jnp.issubdtype(x.dtype, jnp.inexact)


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(
            f"Invalid decay value {decay} provided. Please provide a value in [0,1] range."
        )


def get_ema_multi_avg_fn(decay: float = 0.999) -> MultiAvgFn:
    """EMA over a list of arrays of one dtype: W ← lerp(W, W_model, 1 − decay) (floating), or
    W·decay + W_model·(1 − decay) truncated to the integer dtype.

    Differs from torch: returns the new arrays instead of updating the list in place.
    """
    _check_decay(decay)

    def ema_update(ema_params, current_params, num_averaged):
        if _is_inexact(ema_params[0]):
            # torch converts the weight to the tensors' dtype before forming 1 − weight
            return [
                _lerp(e, c, jnp.asarray(1 - decay, e.dtype))
                for e, c in zip(ema_params, current_params, strict=True)
            ]
        return [
            (e * decay + c * (1 - decay)).astype(e.dtype)
            for e, c in zip(ema_params, current_params, strict=True)
        ]

    return ema_update


def get_swa_multi_avg_fn() -> MultiAvgFn:
    """Equal-weight average over a list of arrays of one dtype: W ← lerp(W, W_model, 1/(n + 1))
    (floating), W + (W_model − W)/(n + 1) truncated (integer); n is the number averaged so far.

    Differs from torch: returns the new arrays instead of updating the list in place.
    """

    def swa_update(averaged_params, current_params, num_averaged):
        n1 = jnp.asarray(num_averaged) + 1
        if _is_inexact(averaged_params[0]):
            return [
                _lerp(a, c, (1 / n1).astype(a.dtype))
                for a, c in zip(averaged_params, current_params, strict=True)
            ]
        return [
            (a + (c - a) / n1).astype(a.dtype)
            for a, c in zip(averaged_params, current_params, strict=True)
        ]

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> AvgFn:
    """EMA of one array: decay·W + (1 − decay)·W_model."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> AvgFn:
    """Equal-weight average of one array: W + (W_model − W)/(n + 1)."""

    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (jnp.asarray(num_averaged) + 1)

    return swa_update


def _by_dtype(arrays: list[jax.Array]) -> dict[Any, list[int]]:
    """Indices of `arrays` grouped by dtype, in first-seen order (torch groups its foreach
    calls by device and dtype, and the multi-array functions rely on one dtype per call)."""
    groups: dict[Any, list[int]] = {}
    for i, x in enumerate(arrays):
        groups.setdefault(x.dtype, []).append(i)
    return groups


class AveragedModel(Module):
    """A running average of a model's parameters (torch.optim.swa_utils.AveragedModel): SWA by
    default, EMA with `multi_avg_fn=get_ema_multi_avg_fn(decay)`.

    Holds a deep copy of `model` as `module` and the count `n_averaged` (a buffer, in
    `state_dict` as torch names it, before the `module.` keys). `avg_fn(averaged, current, n)`
    returns one new array; `multi_avg_fn(averaged_list, current_list, n)` returns the new
    arrays of a list sharing one dtype. With `use_buffers=True` buffers are averaged too,
    otherwise they are copied from `model`.

    Differs from torch: `multi_avg_fn` returns the new arrays (jax arrays are immutable) and is
    also evaluated, then discarded, on the first update, which copies; integer dtype follows
    JAX (int32 `n_averaged` unless `jax_enable_x64`).
    """

    def __init__(
        self,
        model: Module,
        device: Any = None,
        avg_fn: AvgFn | None = None,
        multi_avg_fn: MultiAvgFn | None = None,
        use_buffers: bool = False,
    ):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        if not isinstance(model, Module):
            raise TypeError(
                f"AveragedModel: `model` must be a jtorch.nn.Module, got {type(model).__name__}"
            )
        self.module = copy.deepcopy(model)
        self.register_buffer("n_averaged", jnp.zeros((), int))
        if device is not None:
            self.to(device)
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def _averaged_variables(self, model: Module) -> tuple[list[Any], list[Any]]:
        if self.use_buffers:
            mine = [*self.module.parameters(), *self.module.buffers()]
            theirs = [*model.parameters(), *model.buffers()]
        else:
            mine, theirs = list(self.module.parameters()), list(model.parameters())
        count = min(len(mine), len(theirs))  # torch zips without checking the lengths
        return mine[:count], theirs[:count]

    def update_parameters(self, model: Module) -> None:
        """Fold `model`'s current parameters (and buffers with `use_buffers`) into the average;
        the first call copies them. No host sync: usable inside `jtorch.jit`."""
        mine, theirs = self._averaged_variables(model)
        averaged = [v.get_value() for v in mine]
        current = [
            jax.lax.stop_gradient(jnp.asarray(v.get_value(), a.dtype))
            for v, a in zip(theirs, averaged)
        ]
        n = self.n_averaged.get_value()
        new = list(averaged)
        if self.avg_fn is not None:
            new = [self.avg_fn(a, c, n) for a, c in zip(averaged, current)]
        else:
            average = self.multi_avg_fn or _default_multi_avg
            for indices in _by_dtype(averaged).values():
                result = average([averaged[i] for i in indices], [current[i] for i in indices], n)
                for i, value in zip(indices, result, strict=True):
                    new[i] = value
        first = n == 0
        for var, a, c, value in zip(mine, averaged, current, new):
            value = jnp.asarray(value)
            if value.shape != a.shape:
                raise ValueError(
                    f"AveragedModel: the averaging function returned shape {value.shape} for a "
                    f"parameter of shape {a.shape}"
                )
            var.set_value(jnp.where(first, c, value.astype(a.dtype)))
        if not self.use_buffers:
            for b_avg, b_model in zip(self.module.buffers(), model.buffers(), strict=True):
                b_avg.set_value(jnp.asarray(b_model.get_value(), b_avg.get_value().dtype))
        self.n_averaged.set_value(n + 1)


def _default_multi_avg(averaged, current, n):
    """torch's default average on the CPU (its foreach lerp serves only accelerators):
    W + (W_model − W)/(n + 1), cast back to the array's dtype."""
    avg = get_swa_avg_fn()
    return [avg(a, c, n).astype(a.dtype) for a, c in zip(averaged, current, strict=True)]


def update_bn(loader: Iterable[Any], model: Module, device: Any = None) -> None:
    """Recompute every BatchNorm's running statistics with one pass over `loader`
    (torch.optim.swa_utils.update_bn): the statistics are reset and averaged cumulatively
    (momentum None) over the batches; each batch is an array or a list/tuple whose first
    element is the input. The forward passes run compiled (one `jtorch.jit` program)."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    forward = jit(lambda m, x: m(x))
    try:
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if device is not None:
                batch = jax.device_put(batch, resolve_device(device))
            forward(model, batch)
    finally:
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr to `swa_lr` over `anneal_epochs` epochs, cosine or linear, then
    hold it (torch.optim.swa_utils.SWALR)."""

    def __init__(
        self,
        optimizer: Optimizer,
        swa_lr: float | list[float],
        anneal_epochs: int = 10,
        anneal_strategy: str = "cos",
        last_epoch: int = -1,
    ) -> None:
        swa_lrs = _format_param("swa_lr", optimizer, swa_lr)
        for value, group in zip(swa_lrs, optimizer.param_groups, strict=True):
            group["swa_lr"] = value
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}"
            )
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def _set_anneal_func(self, anneal_strategy: str) -> None:
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def get_lr(self) -> list[float]:
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [
            self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
            for group in self.optimizer.param_groups
        ]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [
            group["swa_lr"] * alpha + lr * (1 - alpha)
            for group, lr in zip(self.optimizer.param_groups, prev_lrs, strict=True)
        ]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer and the annealing function (torch's format)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
