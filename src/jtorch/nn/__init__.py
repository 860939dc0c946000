"""Layers, containers, losses and initialisers with torch.nn's names."""

from jtorch.distributed.sync_batchnorm import SyncBatchNorm
from jtorch.nn import functional, init, parallel, utils
from jtorch.nn.containers import (
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
)
from jtorch.nn.module import Buffer, Module, Parameter
from jtorch.nn.modules import *  # noqa: F403
from jtorch.nn.modules import __all__ as _modules_all
from jtorch.nn.parallel import DataParallel

__all__ = [
    "functional",
    "init",
    "utils",
    "Module",
    "Parameter",
    "Buffer",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "ParameterList",
    "ParameterDict",
    "parallel",
    "SyncBatchNorm",
    "DataParallel",
    *_modules_all,
]
