"""BatchNorm, InstanceNorm, LayerNorm, GroupNorm, LocalResponseNorm (torch names, buffers, repr).

Running statistics are Buffers updated by assignment in `forward` (`self.running_mean = ...`), so
inside `jtorch.jit` the new values are outputs of the compiled step and are written back.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jtorch.nn import functional as F
from jtorch.nn.module import Module, Parameter

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LayerNorm",
    "GroupNorm",
    "LocalResponseNorm",
    "RMSNorm",
]


def _affine_params(module: Module, n: int, affine: bool, bias: bool, dtype: Any) -> None:
    """weight = 1 and bias = 0 of shape (n,), or None slots, registered in torch's order."""
    if affine:
        module.weight = Parameter(jnp.ones((n,), dtype))
        if bias:
            module.bias = Parameter(jnp.zeros((n,), dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


class _NormBase(Module):
    """Options, affine parameters and running-stat buffers shared by BatchNorm and InstanceNorm.

    Differs from torch: `num_batches_tracked` is JAX's default integer (int32 unless
    `jax_enable_x64`), not int64.
    """

    _ndim: tuple[int, ...] = ()  # accepted input ranks
    _layout: str = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        if num_features <= 0:
            raise ValueError(
                f"{type(self).__name__}: `num_features` must be > 0, got {num_features}"
            )
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dtype = jnp.float32 if dtype is None else dtype
        _affine_params(self, num_features, affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", jnp.zeros((num_features,), dtype))
            self.register_buffer("running_var", jnp.ones((num_features,), dtype))
            self.register_buffer("num_batches_tracked", jnp.zeros((), int))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        if device is not None:
            self.to(device)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            self.weight.fill_(1)
            if self.bias is not None:
                self.bias.zero_()

    def _check_input_dim(self, x: jax.Array) -> None:
        if x.ndim not in self._ndim:
            dims = " or ".join(f"{d}D" for d in self._ndim)
            raise ValueError(
                f"{type(self).__name__}: expected {dims} input of shape {self._layout}, got "
                f"{x.ndim}D input of shape {tuple(x.shape)}"
            )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    """Normalise each channel (dim 1) with batch stats in train mode, running stats in eval mode.

    Train mode updates running_mean and running_var (unbiased) by `momentum`, or by the
    cumulative average 1/num_batches_tracked when momentum=None.
    """

    def forward(self, input: Any) -> jax.Array:
        x = jnp.asarray(input)
        self._check_input_dim(x)
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}: `input` of shape {tuple(x.shape)} has {x.shape[1]} "
                f"channels on dim 1, expected num_features={self.num_features}"
            )
        factor: Any = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            count = self.num_batches_tracked.value + 1
            self.num_batches_tracked = count
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / count.astype(x.dtype)
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        out, mean, var = F.batch_norm_stats(
            x,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )
        if use_batch_stats and track and self.running_mean is not None:
            self.running_mean = mean
            self.running_var = var
        return out


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) (torch.nn.BatchNorm1d)."""

    _ndim = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) (torch.nn.BatchNorm2d)."""

    _ndim = (4,)
    _layout = "(N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalization over (N, C, D, H, W) (torch.nn.BatchNorm3d)."""

    _ndim = (5,)
    _layout = "(N, C, D, H, W)"


class _InstanceNorm(_NormBase):
    """Normalise each (sample, channel) over its spatial dims; inputs without batch dim accepted.

    affine and track_running_stats default to False, as in torch.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ):
        super().__init__(
            num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias
        )

    def forward(self, input: Any) -> jax.Array:
        x = jnp.asarray(input)
        self._check_input_dim(x)
        no_batch = x.ndim == self._ndim[0]
        feature_dim = 0 if no_batch else 1
        if x.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(
                    f"{type(self).__name__}: expected input's size at dim={feature_dim} to match "
                    f"num_features ({self.num_features}), but got shape {tuple(x.shape)}"
                )
            warnings.warn(
                f"input's size at dim={feature_dim} does not match num_features. "
                "You can silence this warning by not passing in num_features, "
                "which is not used because affine=False",
                stacklevel=2,
            )
        use_input_stats = self.training or not self.track_running_stats
        out, mean, var = F.instance_norm_stats(
            x[None] if no_batch else x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            use_input_stats,
            self.momentum if self.momentum is not None else 0.0,
            self.eps,
        )
        if use_input_stats and self.running_mean is not None:
            self.running_mean = mean
            self.running_var = var
        return out[0] if no_batch else out


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization over (N, C, L) or (C, L) (torch.nn.InstanceNorm1d)."""

    _ndim = (2, 3)
    _layout = "(C, L) or (N, C, L)"


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization over (N, C, H, W) or (C, H, W) (torch.nn.InstanceNorm2d)."""

    _ndim = (3, 4)
    _layout = "(C, H, W) or (N, C, H, W)"


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization over (N, C, D, H, W) or (C, D, H, W) (torch.nn.InstanceNorm3d)."""

    _ndim = (4, 5)
    _layout = "(C, D, H, W) or (N, C, D, H, W)"


class LayerNorm(Module):
    """(x − E[x]) / √(Var[x] + eps) · weight + bias over the trailing `normalized_shape` dims."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = jnp.float32 if dtype is None else dtype
        if elementwise_affine:
            self.weight = Parameter(jnp.ones(self.normalized_shape, dtype))
            if bias:
                self.bias = Parameter(jnp.zeros(self.normalized_shape, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if device is not None:
            self.to(device)

    def forward(self, input: Any) -> jax.Array:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Normalise `num_groups` channel groups per sample, then per-channel weight and bias."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups != 0:
            raise ValueError(
                f"GroupNorm: `num_channels` ({num_channels}) must be divisible by `num_groups` "
                f"({num_groups})"
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine_params(self, num_channels, affine, bias, jnp.float32 if dtype is None else dtype)
        if device is not None:
            self.to(device)

    def forward(self, input: Any) -> jax.Array:
        x = jnp.asarray(input)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm: expected `input` of shape (N, {self.num_channels}, *), got shape "
                f"{tuple(x.shape)}"
            )
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class LocalResponseNorm(Module):
    """x / (k + alpha/size · Σ x² over `size` neighbouring channels)^beta."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Any) -> jax.Array:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class RMSNorm(Module):
    """x / √(mean(x²) + eps) · weight over the trailing `normalized_shape` dims
    (torch.nn.RMSNorm); `eps=None` uses the machine epsilon of the compute type, as torch."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = jnp.float32 if dtype is None else dtype
        if elementwise_affine:
            self.weight = Parameter(jnp.ones(self.normalized_shape, dtype))
        else:
            self.register_parameter("weight", None)
        if device is not None:
            self.to(device)

    def forward(self, x: Any) -> jax.Array:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
