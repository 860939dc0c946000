"""`Optimizer`: the torch.optim facade over a family's pure optax transformation.

Each family (sgd.py, adam.py, ...) defines a pure `optax.GradientTransformation` factory with
torch's maths and a facade subclass naming it. The facade keeps torch's surface (`param_groups`,
`defaults`, `add_param_group`, `zero_grad`, `state`, `state_dict`, `load_state_dict`) and stores
its arrays in an NNX node so `jtorch.jit` threads them through compiled steps:

- one optax state per parameter (torch keeps state per parameter too, so skipping a parameter
  without a gradient and converting to torch's `state_dict` are direct);
- per-group hyperparameters as scalar arrays: the transformation is wrapped in
  `optax.inject_hyperparams`, and before every step the group's current values (Python floats in
  `param_groups`, editable by users and schedulers) are written into those arrays, so changing
  `lr` never recompiles. The arrays hold the widest float JAX has (float64 with
  `jax_enable_x64`), and each update casts them to its parameter's scalar dtype: float64
  parameters compute with lr 0.8, not float32's 0.800000011920929, and float32 ones as before.

Subclass contract (what a family file provides):

- `_transform_factory`: the pure form, called with the group's options by keyword (torch's names).
  It is wrapped in `optax.inject_hyperparams`, so the options named in `_hyperparams` arrive as
  traced scalars: the maths must not branch in Python on them. Every other option (booleans,
  `betas`, ...) is static; changing one in `param_groups` rebuilds the transformation (one retrace).
  The no-op options `foreach`, `fused`, `capturable`, `differentiable` stay in `defaults` and
  `param_groups` (torch shows them) but are never passed to the factory.
- `_hyperparams`: the numeric options that may change between steps without recompiling.
- the state is a NamedTuple whose fields carry torch's state names (`step`, `exp_avg`, ...);
  `step` is an int32 count. `_state_to_torch(state, group)` / `_state_from_torch(entry, template,
  group)` convert one parameter's NamedTuple to torch's per-parameter dict and back; the defaults
  copy every non-None field by name, write `step` as a float32 scalar (int when
  `_torch_step_type` is `int`) and report no torch state before the first step. Families whose
  torch conventions differ override them (SGD's `momentum_buffer`, Adagrad's eager state).
- `_setstate_group(group)`: fills in / forces options of a group loaded from a state_dict, like
  torch's `__setstate__` (default: missing keys take `defaults`).
"""

from __future__ import annotations

import copy
import functools
import inspect
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jtorch import _structure
from jtorch._device import placed_like
from jtorch.nn.module import Parameter
from jtorch.optim._common import _scalar_dtype, _to_array

__all__ = ["Optimizer"]

# Accepted for torch compatibility; they select kernels in torch and mean nothing under XLA.
NO_OP_OPTIONS = ("foreach", "fused", "capturable", "differentiable")


# ---------------------------------------------------------------------- maths shared by families


def _hparam_array(value: Any) -> jax.Array:
    """A hyperparameter as a scalar array at the widest float precision JAX has (float64 with
    `jax_enable_x64`, else float32), so lr 0.8 stays 0.8 for float64 parameters; each update casts
    it to its parameter's scalar dtype."""
    return jnp.asarray(value, jax.dtypes.canonicalize_dtype(jnp.float64))


# ---------------------------------------------------------------------- state containers


class _OptimizerNode(nnx.Pytree):
    """The optimizer's arrays: parameters (shared with the model), per-parameter states, and
    per-group hyperparameters."""

    def __init__(self) -> None:
        self.params = nnx.List([])
        self.states = nnx.List([])
        self.hparams = nnx.List([])
        # static: the family and every group's non-numeric options. Compiled steps are cached by
        # the node's structure, so two optimizers (or one before and after an option change)
        # share compiled code exactly when their maths is the same.
        self.signature = ""


class _ParamState(nnx.Pytree):
    """One parameter's optax state, its arrays held in `nnx.OptState` variables."""

    def __init__(self, tree: Any) -> None:
        self.tree = nnx.data(jax.tree.map(lambda x: nnx.OptState(_strong(x)), tree))


def _strong(x: Any) -> jax.Array:
    """`x` as an array without JAX's weak type, so the first compiled step sees the same types
    as every later one (no retrace)."""
    x = jnp.asarray(x)
    return jnp.asarray(x, dtype=x.dtype)


@functools.cache
def _factory_parameters(factory: Callable[..., Any]) -> frozenset[str]:
    return frozenset(inspect.signature(factory).parameters)


@functools.cache
def _static_keys(factory: Callable[..., Any], hyperparams: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(
        k for k in _factory_parameters(factory) if k not in hyperparams and k not in NO_OP_OPTIONS
    )


def _is_var(x: Any) -> bool:
    return isinstance(x, nnx.Variable)


def _values(tree: Any) -> Any:
    return jax.tree.map(lambda v: v.get_value(), tree, is_leaf=_is_var)


def _assign(tree: Any, values: Any) -> None:
    jax.tree.map(lambda v, x: v.set_value(x), tree, values, is_leaf=_is_var)


class _StateView(Mapping):
    """torch's `optimizer.state`: {Parameter: {'step': ..., 'exp_avg': ...}} for stepped parameters.

    Keyed by identity (Parameters are NNX variables and not hashable).
    """

    def __init__(self, items: list[tuple[Parameter, dict[str, Any]]]):
        self._items = items

    def __getitem__(self, param: Any) -> dict[str, Any]:
        for p, entry in self._items:
            if p is param:
                return entry
        raise KeyError(param)

    def __iter__(self) -> Iterator[Parameter]:
        return (p for p, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, param: object) -> bool:
        return any(p is param for p, _ in self._items)

    def values(self):  # type: ignore[override]
        return [entry for _, entry in self._items]

    def items(self):  # type: ignore[override]
        return list(self._items)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"<Parameter {tuple(p.shape)}>: {e}" for p, e in self._items) + "}"


class Optimizer:
    """Base class of the torch-style optimizers (the module docstring gives the subclass contract).

    Differs from torch: `step(grads)` takes the gradients returned by `jtorch.grad` /
    `jtorch.value_and_grad` (or a list aligned with the parameters) because JAX does not store
    gradients on parameters; `zero_grad()` is therefore a no-op. State arrays are jax arrays and
    the internal `step` counter is int32 (torch's float `step` appears in `state_dict()`).
    """

    _transform_factory: Callable[..., optax.GradientTransformation]
    _hyperparams: tuple[str, ...] = ("lr",)
    _torch_step_type: type = float

    def __init__(self, params: Any, defaults: dict[str, Any]):
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
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        group["params"] = params
        self._check_group(group)
        transform = self._make_transform(group)
        self.param_groups.append(group)
        self._transforms.append(transform)
        self._node.params.append(nnx.List(params))
        self._node.states.append(
            nnx.List([_ParamState(self._init_state(transform, group, p)) for p in params])
        )
        self._node.hparams.append(
            nnx.Dict({k: nnx.OptState(_hparam_array(group[k])) for k in self._hyperparams})
        )
        self._synced.append({k: group[k] for k in self._hyperparams})
        self._static.append(self._static_options(group))
        self._update_signature()
        _structure.changed(self._node)

    def _update_signature(self) -> None:
        options = [sorted(static.items()) for static in self._static]
        self._node.signature = f"{type(self).__module__}.{type(self).__qualname__}{options!r}"

    def _init_state(self, transform: Any, group: dict[str, Any], param: Parameter) -> Any:
        """A fresh state without its hyperparameters (they are supplied at each update)."""
        state = transform.init(param.get_value())
        # The group's hyperparameters live once per group (`_node.hparams`) and are put into
        # each parameter's state only for the duration of an update.
        return state._replace(hyperparams={})

    def _factory_options(self, group: dict[str, Any]) -> dict[str, Any]:
        """The group's entries the pure form takes; schedulers' bookkeeping keys (`initial_lr`,
        `max_lr`, ...) and torch's no-op flags stay in the group but never reach optax."""
        accepted = _factory_parameters(type(self)._transform_factory)
        return {k: v for k, v in group.items() if k in accepted and k not in NO_OP_OPTIONS}

    def _static_options(self, group: dict[str, Any]) -> dict[str, Any]:
        # runs before every compiled step: a fixed key list, no scan of the whole group
        keys = _static_keys(type(self)._transform_factory, tuple(self._hyperparams))
        return {k: group[k] for k in keys if k in group}

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's hyperparameters; subclasses raise ValueError like torch."""
        lr = group.get("lr")
        if isinstance(lr, numbers.Number) and lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")

    def _make_transform(self, group: dict[str, Any]) -> optax.GradientTransformation:
        options = self._factory_options(group)
        return optax.inject_hyperparams(
            type(self)._transform_factory,
            static_args=tuple(k for k in options if k not in self._hyperparams),
        )(**options)

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
                old_group = {**self._static[gi], **self._synced[gi], "params": group["params"]}
                torch_states = [
                    self._torch_entry(gi, pi, old_group) for pi in range(len(group["params"]))
                ]
                self._transforms[gi] = self._make_transform(group)
                self._static[gi] = static
                for pi, entry in enumerate(torch_states):
                    self._set_param_state(gi, pi, entry, f"parameter {pi} of group {gi}")
                self._update_signature()
                _structure.changed(self._node)
        for group, synced, arrays in zip(self.param_groups, self._synced, self._node.hparams):
            for key in self._hyperparams:
                if group[key] != synced[key]:
                    arrays[key].set_value(_hparam_array(group[key]))
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
                dtype = _scalar_dtype(value)
                state = state._replace(hyperparams={k: v.astype(dtype) for k, v in hparams.items()})
                updates, state = transform.update(grad.astype(value.dtype), state, value)
                param.set_value(optax.apply_updates(value, updates))
                _assign(state_vars.tree, state._replace(hyperparams={}))
        return None

    # ------------------------------------------------------------------ torch-format state

    def _state_to_torch(self, state: NamedTuple, group: dict[str, Any]) -> dict[str, Any] | None:
        """torch's per-parameter state for one NamedTuple state; None where torch has none yet."""
        fields = state._asdict()
        if "step" in fields and int(fields["step"]) == 0:
            return None
        entry: dict[str, Any] = {}
        for key, value in fields.items():
            if value is None:
                continue
            if key == "step":
                value = (
                    int(value) if self._torch_step_type is int else jnp.asarray(value, jnp.float32)
                )
            entry[key] = value
        return entry

    def _state_from_torch(
        self, entry: dict[str, Any], template: NamedTuple, group: dict[str, Any]
    ) -> NamedTuple:
        """The NamedTuple for torch's per-parameter `entry`; `template` is a fresh initial state."""
        values = {}
        for key, init in template._asdict().items():
            if init is None or key not in entry:
                continue
            value = _to_array(entry[key])
            values[key] = value.astype(jnp.asarray(init).dtype)
        return template._replace(**values)

    def _setstate_group(self, group: dict[str, Any]) -> None:
        """Complete a group loaded from a state_dict (torch's `__setstate__` defaults)."""
        for key, default in self.defaults.items():
            group.setdefault(key, default)

    def _torch_entry(self, gi: int, pi: int, group: dict[str, Any]) -> dict[str, Any] | None:
        inject_state = _values(self._node.states[gi][pi].tree)
        return self._state_to_torch(inject_state.inner_state, group)

    def _set_param_state(self, gi: int, pi: int, entry: dict[str, Any] | None, where: str) -> None:
        """Replace one parameter's state with torch's `entry` (None: a fresh initial state)."""
        group = self.param_groups[gi]
        value = group["params"][pi].get_value()
        fresh = self._init_state(self._transforms[gi], group, group["params"][pi])
        inner = fresh.inner_state
        if entry is not None:
            inner = self._state_from_torch(entry, fresh.inner_state, group)
            for key, (new, init) in zip(inner._fields, zip(inner, fresh.inner_state, strict=True)):
                new_shapes = [jnp.shape(x) for x in jax.tree.leaves(new)]
                init_shapes = [jnp.shape(x) for x in jax.tree.leaves(init)]
                if new_shapes != init_shapes:
                    raise ValueError(
                        f"load_state_dict: state '{key}' of {where} has shape "
                        f"{new_shapes[0] if len(new_shapes) == 1 else new_shapes}, expected "
                        f"{init_shapes[0] if len(init_shapes) == 1 else init_shapes} "
                        f"(parameter shape {tuple(value.shape)})"
                    )
            inner = jax.tree.map(placed_like, inner, fresh.inner_state)  # sharded like the param
        count = getattr(inner, "step", fresh.count)
        count = placed_like(jnp.asarray(count, fresh.count.dtype), fresh.count)
        state = fresh._replace(count=count, inner_state=inner)
        self._node.states[gi][pi] = _ParamState(state)

    @property
    def state(self) -> _StateView:
        """torch's per-parameter view: `{param: {'step': ..., 'exp_avg': ...}}` (read-only)."""
        items = []
        for gi, group in enumerate(self.param_groups):
            for pi, param in enumerate(group["params"]):
                entry = self._torch_entry(gi, pi, group)
                if entry is not None:
                    items.append((param, entry))
        return _StateView(items)

    def state_dict(self) -> dict[str, Any]:
        """torch's format: `{'state': {index: {...}}, 'param_groups': [{..., 'params': [...]}]}`.

        Parameters are numbered across groups in order; state arrays are jax arrays (torch
        tensors after `torch.as_tensor(np.asarray(x))`).
        """
        state: dict[int, dict[str, Any]] = {}
        groups = []
        index = 0
        for gi, group in enumerate(self.param_groups):
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = list(range(index, index + len(group["params"])))
            groups.append(packed)
            for pi in range(len(group["params"])):
                entry = self._torch_entry(gi, pi, group)
                if entry is not None:
                    state[index + pi] = entry
            index += len(group["params"])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state_dict in torch's format (from `state_dict()` or from torch itself).

        Hyperparameters come from the loaded groups, as in torch; tensors may be torch tensors,
        numpy or jax arrays. Raises ValueError naming the group or parameter that does not match.
        """
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict:
            raise ValueError(
                "load_state_dict: expected a dict with 'state' and 'param_groups', got "
                f"{type(state_dict).__name__}"
            )
        saved_groups = state_dict["param_groups"]
        saved_state = state_dict.get("state", {})
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, but the optimizer "
                f"has {len(self.param_groups)}"
            )
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group that doesn't match the size of "
                    f"optimizer's group: group {gi} has {len(saved['params'])} parameters in the "
                    f"state dict and {len(group['params'])} in the optimizer"
                )
        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            new_group = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            new_group.pop("param_names", None)
            new_group["params"] = group["params"]
            self._setstate_group(new_group)
            new_groups.append(new_group)
        backup = (
            list(self.param_groups),
            list(self._transforms),
            [dict(s) for s in self._static],
            [list(states) for states in self._node.states],
        )
        retrace = False
        try:
            for gi, (saved, new_group) in enumerate(zip(saved_groups, new_groups)):
                self.param_groups[gi] = new_group
                static = self._static_options(new_group)
                if static != self._static[gi]:
                    self._transforms[gi] = self._make_transform(new_group)
                    self._static[gi] = static
                    retrace = True
                for pi, key in enumerate(saved["params"]):
                    entry = saved_state.get(key)
                    self._set_param_state(gi, pi, entry, f"parameter {key} (group {gi})")
        except Exception:
            groups, transforms, static, states = backup
            self.param_groups[:] = groups
            self._transforms[:] = transforms
            self._static[:] = static
            for gi, group_states in enumerate(states):
                for pi, st in enumerate(group_states):
                    self._node.states[gi][pi] = st
            raise
        if retrace:
            self._update_signature()
        _structure.changed(self._node)  # the state variables were replaced
        self._jtorch_before_jit()
