"""How fast jtorch runs, behind one door: native kernels, the layout policy and their dispatch.

`jtorch.nn.functional` says *what* torch computes, in portable JAX; where a faster kernel exists
for a platform it calls one function of `kernels` (the only name the maths imports from here),
which picks the kernel per lowering platform. The rest is internal:
- `native`: loading the C++ extension and registering its XLA FFI targets (CPU);
- `layout`: which activations XLA stores channels-last, one decision read by the convolutions
  and by BatchNorm's in-place sums;
- `onednn_conv`, `channel_stats`: the FFI calls (with custom gradients for the convolutions);
- `internals`: every private name of a dependency that jtorch uses;
- `compilation_cache`: JAX's persistent compilation cache with jtorch's default directory.
"""

from jtorch._backend import kernels
from jtorch._backend.compilation_cache import enable_compilation_cache
from jtorch._backend.native import available, enabled, load_error

__all__ = ["kernels", "available", "enabled", "load_error", "enable_compilation_cache"]
