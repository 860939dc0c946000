"""`Optimizer`: the torch.optim facade over a family's pure optax transformation.

Each family (sgd.py, adam.py, ...) defines a pure `optax.GradientTransformation` factory with torch's
maths and a facade subclass naming it. The facade keeps torch's surface (`param_groups`,
`defaults`, `add_param_group`, `zero_grad`, `state_dict`) and stores its arrays in an NNX node so
`jtorch.jit` threads them through compiled steps:

- one optax state per parameter (torch keeps state per parameter too, so skipping a parameter
  without a gradient and converting to torch's `state_dict` are direct);
- per-group hyperparameters as scalar arrays: the transformation is wrapped in
  `optax.inject_hyperparams`, and before every step the group's current values (Python floats in
  `param_groups`, editable by users and schedulers) are written into those arrays, so changing
  `lr` never recompiles.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jtorch.nn.module import Parameter, _bump_epoch

__all__ = ["Optimizer"]

# Accepted for torch compatibility; they select kernels in torch and mean nothing under XLA.
NO_OP_OPTIONS = ("foreach", "fused", "capturable", "differentiable")


class _OptimizerNode(nnx.Pytree):
    """The optimizer's arrays: parameters (shared with the model), per-parameter states, and
    per-group hyperparameters."""

    def __init__(self) -> None:
        self.params = nnx.List([])
        self.states = nnx.List([])
        self.hparams = nnx.List([])
        self.version = 0  # static: bumped when a non-numeric option changes, forcing a retrace


class _ParamState(nnx.Pytree):
    """One parameter's optax state, its arrays held in `nnx.OptState` variables."""

    def __init__(self, tree: Any) -> None:
        self.tree = nnx.data(jax.tree.map(lambda x: nnx.OptState(jnp.asarray(x)), tree))


def _is_var(x: Any) -> bool:
    return isinstance(x, nnx.Variable)


def _values(tree: Any) -> Any:
    return jax.tree.map(lambda v: v.get_value(), tree, is_leaf=_is_var)


def _assign(tree: Any, values: Any) -> None:
    jax.tree.map(lambda v, x: v.set_value(x), tree, values, is_leaf=_is_var)


class Optimizer:
    """Base class of the torch-style optimizers.

    Subclasses set `_transform_factory` (the family's pure form, taking torch's argument names) and
    `_hyperparams` (the numeric arguments that may change between steps).

    Differs from torch: `step(grads)` takes the gradients returned by `jtorch.grad` /
    `jtorch.value_and_grad` (or a list aligned with the parameters) because JAX does not store
    gradients on parameters; `zero_grad()` is therefore a no-op.
    """

    _transform_factory: Callable[..., optax.GradientTransformation]
    _hyperparams: tuple[str, ...] = ("lr",)

    def __init__(self, params: Any, defaults: dict[str, Any]):
        for name in NO_OP_OPTIONS:
            defaults.pop(name, None)
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self._transforms: list[optax.GradientTransformation] = []
        self._node = _OptimizerNode()
        self._synced: list[dict[str, float]] = []
        self._static: list[dict[str, Any]] = []
        if isinstance(params, Parameter):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Parameters or "
                "dicts, but got a single Parameter"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}"
            for key in sorted(group):
                if key != "params":
                    text += f"\n    {key}: {group[key]}"
        return text + "\n)"

    # ------------------------------------------------------------------ groups

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (torch semantics and errors)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError(
                    "optimizer can only optimize Parameters, but parameter "
                    f"{i} of the group is a {type(p).__name__}"
                )
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter more than once")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & {id(p) for p in params}:
            raise ValueError("some parameters appear in more than one parameter group")
        for name in NO_OP_OPTIONS:
            group.pop(name, None)
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        group["params"] = params
        self._check_group(group)
        transform = self._make_transform(group)
        self.param_groups.append(group)
        self._transforms.append(transform)
        self._node.params.append(nnx.List(params))
        self._node.states.append(
            nnx.List([_ParamState(transform.init(p.get_value())) for p in params])
        )
        self._node.hparams.append(
            nnx.Dict({k: nnx.OptState(jnp.asarray(group[k], jnp.float32)) for k in self._hyperparams})
        )
        self._synced.append({k: group[k] for k in self._hyperparams})
        self._static.append(self._static_options(group))

    def _static_options(self, group: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in group.items() if k != "params" and k not in self._hyperparams}

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's hyperparameters; subclasses raise ValueError like torch."""
        lr = group.get("lr")
        if isinstance(lr, numbers.Number) and lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")

    def _make_transform(self, group: dict[str, Any]) -> optax.GradientTransformation:
        options = {k: v for k, v in group.items() if k != "params"}
        return optax.inject_hyperparams(type(self)._transform_factory, static_args=tuple(
            k for k in options if k not in self._hyperparams
        ))(**options)

    # ------------------------------------------------------------------ jit protocol

    def _jtorch_state_node(self) -> _OptimizerNode:
        return self._node

    def _jtorch_with_state_node(self, node: _OptimizerNode) -> Optimizer:
        clone = copy.copy(self)
        clone._node = node
        return clone

    def _jtorch_before_jit(self) -> None:
        """Write edited hyperparameters (e.g. a scheduler's new lr) into their arrays; rebuild a
        group's transformation (one retrace) if one of its non-numeric options changed."""
        for gi, group in enumerate(self.param_groups):
            static = self._static_options(group)
            if static != self._static[gi]:
                self._transforms[gi] = self._make_transform(group)
                self._static[gi] = static
                self._node.version += 1
                _bump_epoch()
        for group, synced, arrays in zip(self.param_groups, self._synced, self._node.hparams):
            for key in self._hyperparams:
                if group[key] != synced[key]:
                    arrays[key].set_value(jnp.asarray(group[key], jnp.float32))
                    synced[key] = group[key]

    # ------------------------------------------------------------------ stepping

    def zero_grad(self, set_to_none: bool = True) -> None:
        """No-op: gradients are values returned by `jtorch.grad`, never stored on parameters."""

    def _grads_by_param(self, grads: Any) -> dict[int, Any]:
        params = [p for g in self._node.params for p in g]
        owners = getattr(grads, "params", None)
        if owners:
            return {id(p): g for p, g in zip(owners, grads.values())}
        if isinstance(grads, dict):
            raise TypeError(
                "optimizer.step: `grads` is a dict without parameter references; pass the object "
                "returned by jtorch.grad/value_and_grad, or a list aligned with the optimizer's "
                "parameters"
            )
        if isinstance(grads, Sequence):
            if len(grads) != len(params):
                raise ValueError(
                    f"optimizer.step: got {len(grads)} gradients for {len(params)} parameters"
                )
            return {id(p): g for p, g in zip(params, grads) if g is not None}
        raise TypeError(
            f"optimizer.step: `grads` must come from jtorch.grad or be a list, got "
            f"{type(grads).__name__}"
        )

    def step(self, grads: Any = None, closure: Callable | None = None) -> Any:
        """Apply one update with `grads` to every parameter that has a gradient; returns None."""
        if grads is None:
            raise TypeError(
                "optimizer.step() needs the gradients: optimizer.step(grads) with grads from "
                "jtorch.grad / jtorch.value_and_grad (JAX does not store .grad on parameters)"
            )
        first = self._node.params[0][0].get_value() if self._node.params else None
        if not isinstance(first, jax.core.Tracer):
            self._jtorch_before_jit()
        by_param = self._grads_by_param(grads)
        for gi, transform in enumerate(self._transforms):
            hparams = {k: v.get_value() for k, v in self._node.hparams[gi].items()}
            for param, state_vars in zip(self._node.params[gi], self._node.states[gi]):
                grad = by_param.get(id(param))
                if grad is None:
                    continue
                value = param.get_value()
                grad = jnp.asarray(grad)
                if grad.shape != value.shape:
                    raise ValueError(
                        f"optimizer.step: gradient of shape {grad.shape} for a parameter of "
                        f"shape {value.shape} (group {gi})"
                    )
                state = _values(state_vars.tree)
                state = state._replace(hyperparams={**state.hyperparams, **hparams})
                updates, state = transform.update(grad.astype(value.dtype), state, value)
                param.set_value(optax.apply_updates(value, updates))
                _assign(state_vars.tree, state)
        return None
