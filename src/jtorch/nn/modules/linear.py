"""Identity, Linear, Bilinear."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jtorch import _random
from jtorch.nn import functional as F
from jtorch.nn import init
from jtorch.nn.module import Module, Parameter
from jtorch.nn.modules._args import check_int

__all__ = ["Identity", "Linear", "Bilinear"]


class Identity(Module):
    """Returns its input unchanged; accepts and ignores any constructor arguments."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Linear(Module):
    """y = x·Wᵀ + b (torch.nn.Linear); weight (out_features, in_features), torch's default init.

    `rngs=` (keyword-only) draws the initial values from an `nnx.Rngs` instead of the global RNG.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__()
        in_features = check_int("Linear", "in_features", in_features, 0)
        out_features = check_int("Linear", "out_features", out_features, 0)
        self.in_features = in_features
        self.out_features = out_features
        dtype = jnp.float32 if dtype is None else dtype
        shape = (out_features, in_features)
        # torch: kaiming_uniform_(a=√5) for the weight, U(±1/√fan_in) for the bias
        self.weight = Parameter(
            init.kaiming_uniform(_random.next_key(rngs), shape, a=math.sqrt(5), dtype=dtype)
        )
        if bias:
            bound = 1 / math.sqrt(in_features) if in_features > 0 else 0.0
            self.bias = Parameter(
                init.uniform(_random.next_key(rngs), (out_features,), -bound, bound, dtype)
            )
        else:
            self.register_parameter("bias", None)
        if device is not None:
            self.to(device)

    def forward(self, input: Any) -> jax.Array:
        x = jnp.asarray(input)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear: input has {x.shape[-1] if x.ndim else 'no'} features on its last axis "
                f"(shape {tuple(x.shape)}), expected in_features={self.in_features}"
            )
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Bilinear(Module):
    """y = x1ᵀ·W·x2 + b (torch.nn.Bilinear); weight (out, in1, in2), all values U(±1/√in1)."""

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__()
        in1_features = check_int("Bilinear", "in1_features", in1_features, 0)
        in2_features = check_int("Bilinear", "in2_features", in2_features, 0)
        out_features = check_int("Bilinear", "out_features", out_features, 0)
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        dtype = jnp.float32 if dtype is None else dtype
        bound = 1 / math.sqrt(in1_features) if in1_features > 0 else 0.0
        shape = (out_features, in1_features, in2_features)
        self.weight = Parameter(init.uniform(_random.next_key(rngs), shape, -bound, bound, dtype))
        if bias:
            self.bias = Parameter(
                init.uniform(_random.next_key(rngs), (out_features,), -bound, bound, dtype)
            )
        else:
            self.register_parameter("bias", None)
        if device is not None:
            self.to(device)

    def forward(self, input1: Any, input2: Any) -> jax.Array:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
