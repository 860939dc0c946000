"""Containers with torch's behaviour and printed form: Sequential, ModuleList, ModuleDict,
ParameterList, ParameterDict.

Children are stored as attributes named by their index or key, so `state_dict` keys are torch's
(`layers.0.weight`, `params.linear1`).
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import jax.numpy as jnp

from jtorch.nn.module import Module, Parameter, _addindent

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]

_TYPENAMES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "bfloat16": "BFloat16Tensor",
    "int64": "LongTensor",
    "int32": "IntTensor",
    "int16": "ShortTensor",
    "int8": "CharTensor",
    "uint8": "ByteTensor",
    "bool": "BoolTensor",
}


def _torch_dtype_name(dtype: Any) -> str:
    """torch's spelling of a dtype, e.g. 'torch.float32'."""
    return f"torch.{jnp.dtype(dtype).name}"


def _torch_typename(dtype: Any) -> str:
    """torch.typename of a CPU tensor of this dtype, e.g. 'torch.FloatTensor'."""
    name = jnp.dtype(dtype).name
    return f"torch.{_TYPENAMES.get(name, name)}"


def _index(idx: Any, length: int, what: str) -> int:
    idx = operator.index(idx)
    if not -length <= idx < length:
        raise IndexError(f"index {idx} is out of range for {what} of length {length}")
    return idx % length


class Sequential(Module):
    """Modules run in order, each output feeding the next (torch.nn.Sequential)."""

    def __init__(self, *args: Module | OrderedDict):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def _items(self) -> list[tuple[str, Module]]:
        return list(self._members("_jt_modules"))

    def __len__(self) -> int:
        return len(self._jt_modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(module for _, module in self._items())

    def __getitem__(self, idx: int | slice) -> Any:
        items = self._items()
        if isinstance(idx, slice):
            return type(self)(OrderedDict(items[idx]))
        return items[_index(idx, len(items), "Sequential")][1]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = self._jt_modules[_index(idx, len(self), "Sequential")]
        setattr(self, key, module)

    def __delitem__(self, idx: int | slice) -> None:
        keys = (
            self._jt_modules[idx]
            if isinstance(idx, slice)
            else [self._jt_modules[_index(idx, len(self), "Sequential")]]
        )
        for key in keys:
            delattr(self, key)
        # torch renumbers the remaining children so indices stay contiguous
        items = self._items()
        for key, _ in items:
            delattr(self, key)
        for i, (_, module) in enumerate(items):
            self.add_module(str(i), module)

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        index %= n + 1
        items = [m for _, m in self._items()]
        items.insert(index, module)
        for key in list(self._jt_modules):
            delattr(self, key)
        for i, m in enumerate(items):
            self.add_module(str(i), m)
        return self

    def extend(self, sequential: Iterable[Module]) -> Sequential:
        for module in sequential:
            self.append(module)
        return self

    def forward(self, input: Any) -> Any:
        for module in self:
            input = module(input)
        return input


class ModuleList(Module):
    """A list of sub-modules, registered so their parameters are found (torch.nn.ModuleList)."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _modules_list(self) -> list[Module]:
        return [module for _, module in self._members("_jt_modules")]

    def __len__(self) -> int:
        return len(self._jt_modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules_list())

    def __getitem__(self, idx: int | slice) -> Any:
        modules = self._modules_list()
        if isinstance(idx, slice):
            return type(self)(modules[idx])
        return modules[_index(idx, len(modules), "ModuleList")]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx: int | slice) -> None:
        modules = self._modules_list()
        del modules[idx]
        for key in list(self._jt_modules):
            delattr(self, key)
        self.extend(modules)

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if not isinstance(modules, Iterable):
            raise TypeError(
                "ModuleList.extend should be called with an iterable, "
                f"but got {type(modules).__name__}"
            )
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = self._modules_list()
        modules.insert(index, module)
        for key in list(self._jt_modules):
            delattr(self, key)
        self.extend(modules)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward(); iterate over it instead")

    def __repr__(self) -> str:
        # torch compresses runs of identical children: "(0-2): 3 x Linear(...)"
        reprs = [repr(module) for module in self]
        if not reprs:
            return self._get_name() + "()"
        spans: list[list[int]] = [[0, 0]]
        blocks = [reprs[0]]
        for i, text in enumerate(reprs[1:], 1):
            if text == blocks[-1]:
                spans[-1][1] += 1
            else:
                spans.append([i, i])
                blocks.append(text)
        lines = []
        for (start, end), block in zip(spans, blocks):
            if start == end:
                line = f"({start}): {block}"
            else:
                line = f"({start}-{end}): {end - start + 1} x {block}"
            lines.append(_addindent(line, 2))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of sub-modules (torch.nn.ModuleDict)."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._jt_modules:
            raise KeyError(key)
        return vars(self)[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._jt_modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._jt_modules)

    def __contains__(self, key: object) -> bool:
        return key in self._jt_modules

    def keys(self) -> list[str]:
        return list(self._jt_modules)

    def values(self) -> list[Module]:
        return [vars(self)[key] for key in self._jt_modules]

    def items(self) -> list[tuple[str, Module]]:
        return [(key, vars(self)[key]) for key in self._jt_modules]

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        for key in list(self._jt_modules):
            delattr(self, key)

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self[key] = module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward(); index it instead")


def _param_line(key: Any, value: Any, typename: bool) -> str:
    if isinstance(value, Parameter) or hasattr(value, "shape"):
        arr = value.value if isinstance(value, Parameter) else value
        size = "x".join(str(s) for s in arr.shape)
        dtype = _torch_typename(arr.dtype) if typename else _torch_dtype_name(arr.dtype)
        kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
        return f"  ({key}): {kind} containing: [{dtype} of size {size}]"
    return f"  ({key}): Object of type: {type(value).__name__}"


class ParameterList(Module):
    """A list of Parameters registered under '0', '1', ... (torch.nn.ParameterList)."""

    def __init__(self, values: Iterable[Any] | None = None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def __len__(self) -> int:
        return len(self._jt_params)

    def __iter__(self) -> Iterator[Any]:
        return iter(self[i] for i in range(len(self)))

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return type(self)([self[i] for i in range(len(self))[idx]])
        return getattr(self, str(_index(idx, len(self), "ParameterList")))

    def __setitem__(self, idx: int, param: Any) -> None:
        idx = _index(idx, len(self), "ParameterList")
        setattr(self, str(idx), param if isinstance(param, Parameter) else Parameter(param))

    def append(self, value: Any) -> ParameterList:
        setattr(self, str(len(self)), value if isinstance(value, Parameter) else Parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return "\n".join(_param_line(i, p, typename=False) for i, p in enumerate(self))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ParameterList has no forward(); index it instead")


class ParameterDict(Module):
    """An ordered dict of Parameters registered under their keys (torch.nn.ParameterDict)."""

    def __init__(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        if key not in self._jt_params:
            raise KeyError(key)
        return vars(self)[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.register_parameter(key, value if isinstance(value, Parameter) else Parameter(value))

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._jt_params)

    def __iter__(self) -> Iterator[str]:
        return iter(self._jt_params)

    def __contains__(self, key: object) -> bool:
        return key in self._jt_params

    def keys(self) -> list[str]:
        return list(self._jt_params)

    def values(self) -> list[Parameter]:
        return [vars(self)[key] for key in self._jt_params]

    def items(self) -> list[tuple[str, Parameter]]:
        return [(key, vars(self)[key]) for key in self._jt_params]

    def pop(self, key: str) -> Parameter:
        value = self[key]
        del self[key]
        return value

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def update(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        pairs = parameters.items() if isinstance(parameters, Mapping) else parameters
        for key, value in pairs:
            self[key] = value

    def extra_repr(self) -> str:
        return "\n".join(_param_line(k, p, typename=True) for k, p in self.items())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ParameterDict has no forward(); index it instead")
