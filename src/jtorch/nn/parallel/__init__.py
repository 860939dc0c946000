"""torch.nn.parallel's names: the data-parallel wrappers of `jtorch.distributed`."""

from jtorch.distributed.data_parallel import DataParallel
from jtorch.distributed.ddp import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
