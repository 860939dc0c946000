"""Loss modules: options in __init__, one-line forward calling jtorch.nn.functional.

Constructors take torch's arguments in torch's order; the deprecated `size_average`/`reduce` pair
maps onto `reduction` with torch's rule and a warning. Class weights are buffers (`weight`,
`pos_weight`), so they appear in `state_dict` as in torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jtorch.nn import functional as F
from jtorch.nn.functional.loss import _check_reduction, _legacy_reduction, _pairwise_distance
from jtorch.nn.module import Module
from jtorch.nn.modules.linear import Linear

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CTCLoss",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "GaussianNLLLoss",
    "HingeEmbeddingLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "LinearCrossEntropyLoss",
    "MSELoss",
    "MarginRankingLoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "NLLLoss",
    "PoissonNLLLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
]


class _Loss(Module):
    """Stores `reduction` ('mean', 'sum' or 'none'), mapping the deprecated pair onto it.

    An unknown `reduction` raises ValueError at construction (torch raises at the first call).
    """

    _reductions: tuple[str, ...] = ("mean", "sum", "none")

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        super().__init__()
        self.reduction = _legacy_reduction(size_average, reduce, reduction)
        _check_reduction(self.reduction, self._reductions)


class _WeightedLoss(_Loss):
    """A loss with an optional per-class `weight`, registered as a buffer."""

    def __init__(
        self,
        weight: Any = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


def _value(buffer: Any) -> Any:
    return None if buffer is None else buffer.value


class L1Loss(_Loss):
    """Mean absolute error |x − y| (torch.nn.L1Loss)."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error (x − y)² (torch.nn.MSELoss)."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """0.5·d²/β where |d| < β, else |d| − 0.5·β (torch.nn.SmoothL1Loss)."""

    def __init__(
        self,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        beta: float = 1.0,
    ):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """0.5·d² where |d| ≤ δ, else δ·(|d| − 0.5·δ) (torch.nn.HuberLoss)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class PoissonNLLLoss(_Loss):
    """Poisson negative log likelihood (torch.nn.PoissonNLLLoss)."""

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        size_average: Any = None,
        eps: float = 1e-8,
        reduce: Any = None,
        reduction: str = "mean",
    ):
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input: Any, target: Any) -> jax.Array:
        return F.poisson_nll_loss(
            log_input,
            target,
            log_input=self.log_input,
            full=self.full,
            eps=self.eps,
            reduction=self.reduction,
        )


class GaussianNLLLoss(_Loss):
    """Gaussian negative log likelihood (torch.nn.GaussianNLLLoss)."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: Any, target: Any, var: Any) -> jax.Array:
        return F.gaussian_nll_loss(
            input, target, var, full=self.full, eps=self.eps, reduction=self.reduction
        )


class KLDivLoss(_Loss):
    """Pointwise KL divergence of log-probabilities (torch.nn.KLDivLoss)."""

    _reductions = ("mean", "batchmean", "sum", "none")

    def __init__(
        self,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        log_target: bool = False,
    ):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class NLLLoss(_WeightedLoss):
    """Negative log likelihood of log-probabilities (torch.nn.NLLLoss)."""

    def __init__(
        self,
        weight: Any = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
    ):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.nll_loss(
            input,
            target,
            weight=_value(self.weight),
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy of logits, class indices or probabilities (torch.nn.CrossEntropyLoss)."""

    def __init__(
        self,
        weight: Any = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.cross_entropy(
            input,
            target,
            weight=_value(self.weight),
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class LinearCrossEntropyLoss(_WeightedLoss):
    """Cross entropy of a learned linear projection to `num_classes` logits
    (torch.nn.LinearCrossEntropyLoss): `linear` is a Linear(in_features, C·prod(out_features))
    whose flat weight and bias are reshaped to (C, *out_features, in_features) in forward.

    Differs from torch: `options` (torch's chunking strategy) is stored and ignored.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        out_features: tuple[int, ...] = (),
        bias: bool = False,
        device: Any = None,
        dtype: Any = None,
        reduction: str = "mean",
        weight: Any = None,
        ignore_index: int | None = None,
        label_smoothing: float = 0.0,
        options: Any = None,
        rngs: nnx.Rngs | None = None,
    ):
        if weight is not None and tuple(jnp.shape(weight)) != (num_classes,):
            raise ValueError(
                f"LinearCrossEntropyLoss: expected `weight` shape {(num_classes,)}, got "
                f"{tuple(jnp.shape(weight))}"
            )
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"LinearCrossEntropyLoss: expected `label_smoothing` in [0, 1], got "
                f"{label_smoothing}"
            )
        super().__init__(weight, None, None, reduction)
        self.num_classes = num_classes
        self.out_features = tuple(out_features)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        n_out = math.prod(self.out_features, start=num_classes)
        self.linear = Linear(in_features, n_out, bias=bias, device=device, dtype=dtype, rngs=rngs)
        self.options = options

    def forward(self, input: Any, target: Any) -> jax.Array:
        shape = (self.num_classes, *self.out_features)
        bias = self.linear.bias
        return F.linear_cross_entropy(
            input,
            self.linear.weight.value.reshape(*shape, self.linear.in_features),
            target,
            linear_bias=None if bias is None else bias.value.reshape(shape),
            weight=_value(self.weight),
            reduction=self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            options=self.options,
        )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
            f"out_features={self.out_features}, bias={self.linear.bias is not None}, "
            f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
            f"label_smoothing={self.label_smoothing}, options={self.options}"
        )


class BCELoss(_WeightedLoss):
    """Binary cross entropy of probabilities (torch.nn.BCELoss)."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.binary_cross_entropy(
            input, target, weight=_value(self.weight), reduction=self.reduction
        )


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross entropy in one stable step (torch.nn.BCEWithLogitsLoss)."""

    def __init__(
        self,
        weight: Any = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        pos_weight: Any = None,
    ):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.binary_cross_entropy_with_logits(
            input,
            target,
            weight=_value(self.weight),
            pos_weight=_value(self.pos_weight),
            reduction=self.reduction,
        )


class SoftMarginLoss(_Loss):
    """Two-class logistic loss log(1 + exp(−y·x)) (torch.nn.SoftMarginLoss)."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Multi-label one-versus-all logistic loss (torch.nn.MultiLabelSoftMarginLoss)."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.multilabel_soft_margin_loss(
            input, target, weight=_value(self.weight), reduction=self.reduction
        )


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss (torch.nn.MultiLabelMarginLoss)."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss (torch.nn.MultiMarginLoss)."""

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Any = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"only p == 1 and p == 2 supported, got p={p}")
        if weight is not None and getattr(weight, "ndim", 1) != 1:
            raise ValueError("MultiMarginLoss: expected weight to be None or 1D tensor")
        self.p = p
        self.margin = margin

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.multi_margin_loss(
            input,
            target,
            p=self.p,
            margin=self.margin,
            weight=_value(self.weight),
            reduction=self.reduction,
        )


class _MarginLoss(_Loss):
    """A loss with a `margin` before the reduction arguments (default 0.0, as most have)."""

    def __init__(
        self,
        margin: float = 0.0,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin


class MarginRankingLoss(_MarginLoss):
    """Ranking hinge loss max(0, −y·(x1 − x2) + margin) (torch.nn.MarginRankingLoss)."""

    def forward(self, input1: Any, input2: Any, target: Any) -> jax.Array:
        return F.margin_ranking_loss(
            input1, input2, target, margin=self.margin, reduction=self.reduction
        )


class HingeEmbeddingLoss(_MarginLoss):
    """Hinge embedding loss (torch.nn.HingeEmbeddingLoss)."""

    def __init__(
        self,
        margin: float = 1.0,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ):
        super().__init__(margin, size_average, reduce, reduction)

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class CosineEmbeddingLoss(_MarginLoss):
    """Cosine embedding loss (torch.nn.CosineEmbeddingLoss)."""

    def forward(self, input1: Any, input2: Any, target: Any) -> jax.Array:
        return F.cosine_embedding_loss(
            input1, input2, target, margin=self.margin, reduction=self.reduction
        )


class TripletMarginLoss(_Loss):
    """Triplet loss with p-norm distances (torch.nn.TripletMarginLoss)."""

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ):
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(
                f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead"
            )
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: Any, positive: Any, negative: Any) -> jax.Array:
        return F.triplet_margin_loss(
            anchor,
            positive,
            negative,
            margin=self.margin,
            p=self.p,
            eps=self.eps,
            swap=self.swap,
            reduction=self.reduction,
        )


class _PairwiseDistance(Module):
    """‖x1 − x2 + eps‖_2 over the last axis: the default distance of
    TripletMarginWithDistanceLoss, a child module as in torch (prints `PairwiseDistance()`)."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6):
        super().__init__()
        self.norm = p
        self.eps = eps

    def _get_name(self) -> str:
        return "PairwiseDistance"

    def forward(self, x1: Any, x2: Any) -> jax.Array:
        return _pairwise_distance(jnp.asarray(x1), jnp.asarray(x2), self.norm, self.eps)


class TripletMarginWithDistanceLoss(_Loss):
    """Triplet loss with any distance function (torch.nn.TripletMarginWithDistanceLoss)."""

    def __init__(
        self,
        *,
        distance_function: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
        margin: float = 1.0,
        swap: bool = False,
        reduction: str = "mean",
    ):
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(
                "TripletMarginWithDistanceLoss: expected margin to be greater than 0, got "
                f"{margin} instead"
            )
        self.distance_function = (
            distance_function if distance_function is not None else _PairwiseDistance()
        )
        self.margin = margin
        self.swap = swap

    def forward(self, anchor: Any, positive: Any, negative: Any) -> jax.Array:
        return F.triplet_margin_with_distance_loss(
            anchor,
            positive,
            negative,
            distance_function=self.distance_function,
            margin=self.margin,
            swap=self.swap,
            reduction=self.reduction,
        )


class CTCLoss(_Loss):
    """Connectionist Temporal Classification loss (torch.nn.CTCLoss)."""

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(
        self, log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any
    ) -> jax.Array:
        return F.ctc_loss(
            log_probs,
            targets,
            input_lengths,
            target_lengths,
            blank=self.blank,
            reduction=self.reduction,
            zero_infinity=self.zero_infinity,
        )
