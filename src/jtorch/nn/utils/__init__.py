"""torch.nn.utils: gradient clipping, variable-length sequences (`rnn`)."""

from jtorch.nn.utils import rnn
from jtorch.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_by_norm

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_by_norm", "rnn"]
