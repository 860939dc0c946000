"""torch.nn.parallel's names: the data-parallel wrappers of `jtorch.distributed`."""

from jtorch.distributed.ddp import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
