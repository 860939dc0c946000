"""Functional transforms over modules (torch.func): `functional_call`, `vjp`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flax import nnx

from jtorch._transforms import vjp
from jtorch.nn.module import Buffer, Module, Parameter, _to_jax

__all__ = ["functional_call", "vjp"]


def _merge_dicts(dicts: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if isinstance(dicts, Mapping):
        return dict(dicts)
    if not isinstance(dicts, Sequence) or not all(isinstance(d, Mapping) for d in dicts):
        raise ValueError(
            "functional_call: `parameter_and_buffer_dicts` must be a dict or a sequence of "
            f"dicts, got {type(dicts).__name__}"
        )
    merged: dict[str, Any] = {}
    repeated = sorted({k for d in dicts for k in d if sum(k in e for e in dicts) > 1})
    if repeated:
        raise ValueError(
            f"{repeated} appeared in multiple dictionaries; behavior of "
            "functional call is ambiguous"
        )
    for d in dicts:
        merged.update(d)
    return merged


def _members(module: Module) -> dict[str, tuple[Module, str, Any]]:
    """Every parameter and buffer name (tied ones under each name) → (owner, attr, variable)."""
    out: dict[str, tuple[Module, str, Any]] = {}
    for prefix, sub in module.named_modules(remove_duplicate=False):
        for kind in ("_jt_params", "_jt_buffers"):
            for attr, var in sub._members(kind):
                if var is not None:
                    out[f"{prefix}.{attr}" if prefix else attr] = (sub, attr, var)
    return out


def functional_call(
    module: Module,
    parameter_and_buffer_dicts: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    """module(*args, **kwargs) with the named arrays in place of its parameters and buffers
    (torch.func.functional_call).

    Names are torch's (`named_parameters()` / `named_buffers()` keys); names not given keep the
    module's own values. The call runs on a clone, so `module` is never changed: this is a pure
    function of the dict, and `jax.grad` of a function of it returns gradients keyed by the same
    names. Works under `jax.jit` and `jax.vmap` (e.g. a batch of stacked parameter dicts).
    `args` that is not a tuple is passed as the single positional argument.

    Differs from torch: state changes made during the call (BatchNorm running statistics,
    dropout RNG counters) are discarded rather than written into the dict, so a dropout layer
    draws the same mask on every call; unexpected keys are ignored unless `strict=True`.
    """
    values = _merge_dicts(parameter_and_buffer_dicts)
    if not isinstance(module, Module):
        raise TypeError(
            f"functional_call: `module` must be a jtorch.nn.Module, got {type(module).__name__}"
        )
    clone = nnx.compat.clone(module)
    members = _members(clone)
    if strict:
        unexpected = [k for k in values if k not in members]
        missing = [k for k in members if k not in values]
        errors = []
        if unexpected:
            errors.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            errors.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if errors:
            raise RuntimeError(
                f"Error(s) in reparametrizing for {module._get_name()}:\n\t" + "\n\t".join(errors)
            )
    if tie_weights:
        by_var: dict[int, list[str]] = {}
        for name in values:
            if name in members:
                by_var.setdefault(id(members[name][2]), []).append(name)
        for names in by_var.values():
            if len(names) > 1 and len({id(values[n]) for n in names}) > 1:
                raise ValueError(
                    f"functional_call got multiple values for keys {sorted(names)}, which are "
                    "tied. Consider using tie_weights=False"
                )
    for name, value in values.items():
        if name not in members:
            continue
        owner, attr, var = members[name]
        value = _to_jax(value, name)
        if tie_weights:
            var.set_value(value)
        else:
            # a fresh variable for this name only, leaving any tied twin its own value
            if isinstance(var, Parameter):
                fresh = Parameter(value, requires_grad=var.requires_grad)
            else:
                fresh = Buffer(value, persistent=var.persistent)
            owner._store(attr, fresh)
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    return clone(*args, **(kwargs or {}))
