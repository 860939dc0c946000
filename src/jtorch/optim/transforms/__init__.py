"""torch.optim's update rules as pure optax `GradientTransformation`s (`transforms.adam(lr=...)`),
one module per family, each importing only optax, JAX and the shared maths of `optim._common`:
no Module, Parameter or optimizer facade. `jtorch.optim` re-exports them beside the facades.
"""

from jtorch.optim.transforms.adadelta import AdadeltaState, adadelta
from jtorch.optim.transforms.adafactor import AdafactorState, adafactor
from jtorch.optim.transforms.adagrad import AdagradState, adagrad
from jtorch.optim.transforms.adam import AdamState, adam
from jtorch.optim.transforms.adamax import AdamaxState, adamax
from jtorch.optim.transforms.adamw import adamw
from jtorch.optim.transforms.asgd import ASGDState, asgd
from jtorch.optim.transforms.muon import MuonState, muon
from jtorch.optim.transforms.nadam import NAdamState, nadam
from jtorch.optim.transforms.radam import RAdamState, radam
from jtorch.optim.transforms.rmsprop import RMSpropState, rmsprop
from jtorch.optim.transforms.rprop import RpropState, rprop
from jtorch.optim.transforms.sgd import SGDState, sgd
from jtorch.optim.transforms.sparse_adam import SparseAdamState, sparse_adam

__all__ = [
    "adadelta",
    "AdadeltaState",
    "adafactor",
    "AdafactorState",
    "adagrad",
    "AdagradState",
    "adam",
    "AdamState",
    "adamax",
    "AdamaxState",
    "adamw",
    "asgd",
    "ASGDState",
    "muon",
    "MuonState",
    "nadam",
    "NAdamState",
    "radam",
    "RAdamState",
    "rmsprop",
    "RMSpropState",
    "rprop",
    "RpropState",
    "sgd",
    "SGDState",
    "sparse_adam",
    "SparseAdamState",
]
