"""Optimizers: torch.optim's classes (facades) and their pure optax forms (lowercase, defined in
`jtorch.optim.transforms`)."""

from jtorch.optim import adadelta as _adadelta
from jtorch.optim import adafactor as _adafactor
from jtorch.optim import adagrad as _adagrad
from jtorch.optim import adam as _adam
from jtorch.optim import adamax as _adamax
from jtorch.optim import adamw as _adamw
from jtorch.optim import asgd as _asgd
from jtorch.optim import lbfgs as _lbfgs
from jtorch.optim import lr_scheduler, swa_utils, transforms
from jtorch.optim import muon as _muon
from jtorch.optim import nadam as _nadam
from jtorch.optim import radam as _radam
from jtorch.optim import rmsprop as _rmsprop
from jtorch.optim import rprop as _rprop
from jtorch.optim import sgd as _sgd
from jtorch.optim import sparse_adam as _sparse_adam
from jtorch.optim.adadelta import *  # noqa: F403
from jtorch.optim.adafactor import *  # noqa: F403
from jtorch.optim.adagrad import *  # noqa: F403
from jtorch.optim.adam import *  # noqa: F403
from jtorch.optim.adamax import *  # noqa: F403
from jtorch.optim.adamw import *  # noqa: F403
from jtorch.optim.asgd import *  # noqa: F403
from jtorch.optim.lbfgs import *  # noqa: F403
from jtorch.optim.muon import *  # noqa: F403
from jtorch.optim.nadam import *  # noqa: F403
from jtorch.optim.optimizer import Optimizer
from jtorch.optim.radam import *  # noqa: F403
from jtorch.optim.rmsprop import *  # noqa: F403
from jtorch.optim.rprop import *  # noqa: F403
from jtorch.optim.sgd import *  # noqa: F403
from jtorch.optim.sparse_adam import *  # noqa: F403

__all__ = [
    "Optimizer",
    "lr_scheduler",
    "swa_utils",
    "transforms",
    *_sgd.__all__,
    *_asgd.__all__,
    *_adadelta.__all__,
    *_adagrad.__all__,
    *_adam.__all__,
    *_adamw.__all__,
    *_adamax.__all__,
    *_sparse_adam.__all__,
    *_radam.__all__,
    *_nadam.__all__,
    *_rmsprop.__all__,
    *_rprop.__all__,
    *_lbfgs.__all__,
    *_adafactor.__all__,
    *_muon.__all__,
]
