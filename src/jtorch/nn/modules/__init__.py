"""Layer modules: each a thin shell over the pure function of the same name."""

from . import activation as _activation
from . import attention as _attention
from . import conv as _conv
from . import dropout as _dropout
from . import flatten as _flatten
from . import linear as _linear
from . import loss as _loss
from . import normalization as _normalization
from . import padding as _padding
from . import pooling as _pooling
from . import rnn as _rnn
from . import sparse as _sparse
from . import transformer as _transformer
from . import vision as _vision
from .activation import *  # noqa: F403
from .attention import *  # noqa: F403
from .conv import *  # noqa: F403
from .dropout import *  # noqa: F403
from .flatten import *  # noqa: F403
from .linear import *  # noqa: F403
from .loss import *  # noqa: F403
from .normalization import *  # noqa: F403
from .padding import *  # noqa: F403
from .pooling import *  # noqa: F403
from .rnn import *  # noqa: F403
from .sparse import *  # noqa: F403
from .transformer import *  # noqa: F403
from .vision import *  # noqa: F403

__all__ = [
    *_activation.__all__,
    *_linear.__all__,
    *_conv.__all__,
    *_pooling.__all__,
    *_normalization.__all__,
    *_dropout.__all__,
    *_sparse.__all__,
    *_padding.__all__,
    *_flatten.__all__,
    *_vision.__all__,
    *_rnn.__all__,
    *_attention.__all__,
    *_transformer.__all__,
    *_loss.__all__,
]
