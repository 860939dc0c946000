"""Activation modules, thin shells over jtorch.nn.functional (torch's arguments and repr text)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jtorch import _random
from jtorch.nn import functional as F
from jtorch.nn.module import Module, Parameter

__all__ = [
    "Threshold",
    "ReLU",
    "ReLU6",
    "Hardtanh",
    "LeakyReLU",
    "PReLU",
    "RReLU",
    "ELU",
    "SELU",
    "CELU",
    "GELU",
    "SiLU",
    "Mish",
    "Sigmoid",
    "Tanh",
    "Hardsigmoid",
    "Hardswish",
    "LogSigmoid",
    "Softplus",
    "Softsign",
    "Tanhshrink",
    "Hardshrink",
    "Softshrink",
    "GLU",
    "Softmax",
    "Softmax2d",
    "Softmin",
    "LogSoftmax",
]


class _Inplace(Module):
    """An activation whose only option is `inplace` (accepted, ignored, shown in the repr)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class _NoArgs(Module):
    """An activation without options."""

    def __init__(self):
        super().__init__()


class Threshold(Module):
    """x where x > threshold, else value (torch.nn.Threshold)."""

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: Any) -> jax.Array:
        return F.threshold(input, self.threshold, self.value)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"threshold={self.threshold}, value={self.value}{inplace}"


class ReLU(_Inplace):
    """max(x, 0) (torch.nn.ReLU)."""

    def forward(self, input: Any) -> jax.Array:
        return F.relu(input)


class Hardtanh(Module):
    """clip(x, min_val, max_val) (torch.nn.Hardtanh)."""

    def __init__(
        self,
        min_val: float = -1.0,
        max_val: float = 1.0,
        inplace: bool = False,
        min_value: float | None = None,
        max_value: float | None = None,
    ):
        super().__init__()
        min_val = min_val if min_value is None else min_value
        max_val = max_val if max_value is None else max_value
        if min_val > max_val:
            raise ValueError(f"Hardtanh: `min_val`={min_val} must not exceed `max_val`={max_val}")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: Any) -> jax.Array:
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"min_val={self.min_val}, max_val={self.max_val}{inplace}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6) (torch.nn.ReLU6)."""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x where x > 0, else negative_slope·x (torch.nn.LeakyReLU)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Any) -> jax.Array:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"negative_slope={self.negative_slope}{inplace}"


class PReLU(Module):
    """x where x > 0, else a·x with learnable `weight` a of shape (num_parameters,), init 0.25."""

    def __init__(
        self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None
    ):
        super().__init__()
        if num_parameters < 1:
            raise ValueError(f"PReLU: `num_parameters` must be >= 1, got {num_parameters}")
        self.num_parameters = num_parameters
        self.init = init
        dtype = jnp.float32 if dtype is None else dtype
        self.weight = Parameter(jnp.full((num_parameters,), init, dtype))
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        self.weight.value = jnp.full_like(self.weight.value, self.init)

    def forward(self, input: Any) -> jax.Array:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """x where x > 0, else a·x with a ~ U(lower, upper) per element in train mode and
    (lower + upper)/2 in eval mode (torch.nn.RReLU). Train mode draws from the module's own RNG
    stream (forked at construction, `rngs=` keyword-only), so every compiled call draws afresh.
    """

    def __init__(
        self,
        lower: float = 1.0 / 8,
        upper: float = 1.0 / 3,
        inplace: bool = False,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__()
        if not lower <= upper:
            raise ValueError(
                f"RReLU: `lower` ({lower}) should be less than or equal to `upper` ({upper})"
            )
        self.lower = lower
        self.upper = upper
        self.inplace = inplace
        self.rngs = _random.fork_rngs(rngs)

    def forward(self, input: Any) -> jax.Array:
        if not self.training:
            return F.rrelu(input, self.lower, self.upper, training=False)
        return F.rrelu(input, self.lower, self.upper, training=True, key=self.rngs.default())

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"lower={self.lower}, upper={self.upper}{inplace}"


class ELU(Module):
    """x where x > 0, else alpha·(exp(x) − 1) (torch.nn.ELU)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Any) -> jax.Array:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """max(0, x) + min(0, alpha·(exp(x/alpha) − 1)) (torch.nn.CELU)."""

    def forward(self, input: Any) -> jax.Array:
        return F.celu(input, self.alpha)


class SELU(_Inplace):
    """scale·elu(x, alpha) with torch's fixed scale and alpha (torch.nn.SELU)."""

    def forward(self, input: Any) -> jax.Array:
        return F.selu(input)


class GELU(Module):
    """x·Φ(x), or its tanh approximation with approximate='tanh' (torch.nn.GELU)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: `approximate` must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Any) -> jax.Array:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_Inplace):
    """x·sigmoid(x) (torch.nn.SiLU)."""

    def forward(self, input: Any) -> jax.Array:
        return F.silu(input)


class Mish(_Inplace):
    """x·tanh(softplus(x)) (torch.nn.Mish)."""

    def forward(self, input: Any) -> jax.Array:
        return F.mish(input)


class Sigmoid(_NoArgs):
    """1 / (1 + exp(−x)) (torch.nn.Sigmoid)."""

    def forward(self, input: Any) -> jax.Array:
        return F.sigmoid(input)


class Tanh(_NoArgs):
    """tanh(x) (torch.nn.Tanh)."""

    def forward(self, input: Any) -> jax.Array:
        return F.tanh(input)


class Hardsigmoid(Module):
    """clip(x/6 + 1/2, 0, 1) (torch.nn.Hardsigmoid; its repr shows no options)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Any) -> jax.Array:
        return F.hardsigmoid(input)


class Hardswish(Hardsigmoid):
    """x·clip(x + 3, 0, 6)/6 (torch.nn.Hardswish)."""

    def forward(self, input: Any) -> jax.Array:
        return F.hardswish(input)


class LogSigmoid(_NoArgs):
    """log(sigmoid(x)) (torch.nn.LogSigmoid)."""

    def forward(self, input: Any) -> jax.Array:
        return F.logsigmoid(input)


class Softplus(Module):
    """log(1 + exp(beta·x))/beta, linear where beta·x > threshold (torch.nn.Softplus)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Any) -> jax.Array:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softsign(_NoArgs):
    """x / (1 + |x|) (torch.nn.Softsign)."""

    def forward(self, input: Any) -> jax.Array:
        return F.softsign(input)


class Tanhshrink(_NoArgs):
    """x − tanh(x) (torch.nn.Tanhshrink)."""

    def forward(self, input: Any) -> jax.Array:
        return F.tanhshrink(input)


class Hardshrink(Module):
    """x where |x| > lambd, else 0 (torch.nn.Hardshrink)."""

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Any) -> jax.Array:
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """x ∓ lambd outside [−lambd, lambd], else 0 (torch.nn.Softshrink)."""

    def forward(self, input: Any) -> jax.Array:
        return F.softshrink(input, self.lambd)


class GLU(Module):
    """a·sigmoid(b) for the halves a, b of the input along `dim` (torch.nn.GLU)."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> jax.Array:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(Module):
    """exp(x_i) / Σ_j exp(x_j) along `dim` (torch.nn.Softmax; dim=None warns and picks one)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> jax.Array:
        return F.softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax2d(_NoArgs):
    """softmax over the channels (dim −3) of (N, C, H, W) or (C, H, W) (torch.nn.Softmax2d)."""

    def forward(self, input: Any) -> jax.Array:
        x = jnp.asarray(input)
        if x.ndim not in (3, 4):
            raise ValueError(
                f"Softmax2d: expected `input` of shape (C, H, W) or (N, C, H, W) (3D or 4D), "
                f"got shape {tuple(x.shape)}"
            )
        return F.softmax(x, -3)


class Softmin(Softmax):
    """softmax(−x) along `dim` (torch.nn.Softmin)."""

    def forward(self, input: Any) -> jax.Array:
        return F.softmin(input, self.dim, _stacklevel=5)


class LogSoftmax(Softmax):
    """log(softmax(x)) along `dim` (torch.nn.LogSoftmax)."""

    def forward(self, input: Any) -> jax.Array:
        return F.log_softmax(input, self.dim, _stacklevel=5)
