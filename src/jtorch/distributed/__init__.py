"""torch.distributed's names on JAX: the process group, data-parallel and sharded models.

`init_process_group` joins `jax.distributed`; `DistributedDataParallel` and `fully_shard` put a
model on the `data` mesh (every device of every process); `shard_batch` splits a batch over it;
`jtorch run` (or `python -m jtorch.distributed.run`) starts the processes like torchrun.
"""

from jtorch.distributed import checkpoint
from jtorch.distributed.ddp import DistributedDataParallel
from jtorch.distributed.fsdp import FullyShardedDataParallel, fully_shard
from jtorch.distributed.mesh import batch_sharding, data_mesh, replicate, shard_batch
from jtorch.distributed.process_group import (
    ReduceOp,
    all_gather,
    all_reduce,
    barrier,
    broadcast,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
)
from jtorch.distributed.sync_batchnorm import SyncBatchNorm

__all__ = [
    "DistributedDataParallel",
    "FullyShardedDataParallel",
    "ReduceOp",
    "SyncBatchNorm",
    "all_gather",
    "all_reduce",
    "barrier",
    "batch_sharding",
    "broadcast",
    "checkpoint",
    "data_mesh",
    "fully_shard",
    "destroy_process_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
    "replicate",
    "shard_batch",
]
